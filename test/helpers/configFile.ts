// Throw-away kernscope config files.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { HasTeardown } from './teardown';

/** Writes `yaml` to a fresh temporary file (removed at teardown) and returns its path. */
export function writeConfig(t: HasTeardown, yaml: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kernscope-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'kernscope.yaml');
  writeFileSync(file, yaml);
  return file;
}
