// cgroup id -> path on this machine's cgroup2 hierarchy: a cgroup created
// since the last walk resolves at once (the first scrape after it appears
// names it), while ids of cgroups already gone walk at most once per interval.
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';

import { CgroupPaths } from '../../src/enrich/CgroupPaths';
import { cgroup2Mount } from '../../src/kernel/cgroup';
import { createCgroup } from '../helpers/cgroup';

const idOf = (dir: string): bigint => statSync(dir, { bigint: true }).ino;
const HOUR_MS = 3_600_000;

void t.test('a cgroup created after a walk resolves at once, not after the rescan interval', (t) => {
  const mount = cgroup2Mount()!;
  const paths = new CgroupPaths(mount, HOUR_MS);
  t.equal(paths.pathOf(idOf(mount)), '/', 'the root, from the first walk');
  const created = createCgroup(t);
  t.equal(paths.pathOf(idOf(created)), `/${path.basename(created)}`, 'named within the hour');
  t.end();
});

void t.test('the id of a cgroup already gone walks once, then waits for the interval', (t) => {
  const mount = cgroup2Mount()!;
  const paths = new CgroupPaths(mount, HOUR_MS);
  const gone = createCgroup(t, 'kernscope-gone');
  const goneId = idOf(gone);
  rmdirSync(gone);
  t.equal(paths.pathOf(goneId), undefined, 'unknown after a walk');

  // Whether a second ask walks shows in what the map holds: a cgroup made
  // after the first walk is in it only if the second ask walked.
  const later = path.join(mount, `kernscope-later-${process.pid}`);
  mkdirSync(later);
  const laterId = idOf(later);
  t.equal(paths.pathOf(goneId), undefined, 'still unknown');
  rmdirSync(later);
  t.equal(
    paths.pathOf(laterId),
    undefined,
    'the second ask did not walk (else the map would still hold the later cgroup)',
  );
  t.end();
});
