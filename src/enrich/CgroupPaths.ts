// cgroup id -> cgroup path. A cgroup v2 id is the inode number of its
// directory (kernfs), so one walk of the hierarchy maps every id. kernfs hands
// out ids in increasing order, so an unknown id above every id seen is a
// cgroup created since the last walk: it walks again at once (a burst of new
// cgroups costs one walk, which finds them all). Any other unknown id (a
// cgroup gone already) walks at most once per `rescanMs`. Removed cgroups
// leave the map at the next walk.
import type { Dirent } from 'node:fs';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export class CgroupPaths {
  private paths = new Map<bigint, string>();
  private lastScan = -Infinity;
  /** The largest id walked or asked for: ids above it are newer than the last walk. */
  private newest = 0n;

  constructor(
    private readonly mount: string,
    private readonly rescanMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The path below the mount (`/kubepods.slice/...`, `/` for the root), or undefined if no such cgroup exists. */
  pathOf(id: bigint): string | undefined {
    const known = this.paths.get(id);
    if (known !== undefined) return known;
    if (id <= this.newest && this.now() - this.lastScan < this.rescanMs) return undefined;
    if (id > this.newest) this.newest = id;
    this.scan();
    return this.paths.get(id);
  }

  private scan(): void {
    const paths = new Map<bigint, string>();
    const walk = (relative: string): void => {
      const absolute = path.join(this.mount, relative);
      try {
        const id = statSync(absolute, { bigint: true }).ino;
        paths.set(id, relative);
        if (id > this.newest) this.newest = id;
      } catch {
        return; // removed while walking
      }
      let entries: Dirent[];
      try {
        entries = readdirSync(absolute, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) if (entry.isDirectory()) walk(path.posix.join(relative, entry.name));
    };
    walk('/');
    this.paths = paths;
    this.lastScan = this.now();
  }
}
