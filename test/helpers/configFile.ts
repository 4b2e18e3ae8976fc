// Throw-away kernscope config files.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { HasTeardown } from './teardown';

/**
 * Writes `yaml` to a fresh temporary file (removed at teardown) and returns
 * its path; readable by every user, so an unprivileged kernscope can read it.
 */
export function writeConfig(t: HasTeardown, yaml: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kernscope-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const file = path.join(dir, 'kernscope.yaml');
  writeFileSync(file, yaml, { mode: 0o644 });
  return file;
}
