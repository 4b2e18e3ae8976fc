// Throw-away cgroup v2 directories for filtered workloads.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { cgroup2Mount } from '../../src/kernel/cgroup';
import type { HasTeardown } from './teardown';
import { sleep } from './teardown';

/** Removes a cgroup, killing what is left in it first (cgroup.kill, Linux 5.14+). */
export async function removeCgroup(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      if (attempt === 0 && readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').trim() !== '') {
        writeFileSync(path.join(dir, 'cgroup.kill'), '1');
      }
      await sleep(20);
    }
  }
  rmdirSync(dir);
}

/** Creates a fresh cgroup v2 directory under the cgroup2 mount; removed at teardown. */
export function createCgroup(t: HasTeardown, prefix = 'kernscope-test'): string {
  const mount = cgroup2Mount();
  if (!mount) throw new Error('cgroup v2 is not mounted');
  const dir = path.join(mount, `${prefix}-${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(dir);
  t.teardown(() => removeCgroup(dir));
  return dir;
}
