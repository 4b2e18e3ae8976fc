// Where a probe's BPF object is installed: dist/bpf in the package. The
// loader opens it there, and so does whatever reads the object's BTF before
// loading (histogram slot counts for bucket validation).
import path from 'node:path';

import { PACKAGE_ROOT } from '../native/addon';
import type { ProbeDefinition } from './ProbeDefinition';

export const BPF_OBJECT_DIR = path.join(PACKAGE_ROOT, 'dist', 'bpf');

export function objectPath(definition: ProbeDefinition, objectDir = BPF_OBJECT_DIR): string {
  return path.resolve(objectDir, definition.object); // a user probe's is absolute
}
