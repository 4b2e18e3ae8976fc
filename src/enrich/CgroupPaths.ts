// cgroup id -> cgroup path. A cgroup v2 id is the inode number of its
// directory (kernfs), so one walk of the hierarchy maps every id; an unknown
// id (a cgroup created since) triggers another walk, at most once per
// `rescanMs`, so a burst of records from new cgroups costs one walk, not one
// per record. Removed cgroups leave the map at the next walk.
import type { Dirent } from 'node:fs';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export class CgroupPaths {
  private paths = new Map<bigint, string>();
  private lastScan = -Infinity;

  constructor(
    private readonly mount: string,
    private readonly rescanMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The path below the mount (`/kubepods.slice/...`, `/` for the root), or undefined if no such cgroup exists. */
  pathOf(id: bigint): string | undefined {
    const known = this.paths.get(id);
    if (known !== undefined || this.now() - this.lastScan < this.rescanMs) return known;
    this.scan();
    return this.paths.get(id);
  }

  private scan(): void {
    const paths = new Map<bigint, string>();
    const walk = (relative: string): void => {
      const absolute = path.join(this.mount, relative);
      try {
        paths.set(statSync(absolute, { bigint: true }).ino, relative);
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
