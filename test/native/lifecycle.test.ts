// Handles the program forgot to close still leave nothing in the kernel while
// the process lives on: the destructor (GC) and the environment cleanup hook
// (worker exit) close them. Children report; bpftool is the witness.
import path from 'node:path';

import t from 'tap';

import { run } from '../helpers/process';

const CHILD = path.join(__dirname, 'fixtures', 'lifecycle-child.js');

interface Report {
  ours: { progIds: number[]; linkIds: number[]; mapIds: number[] };
  left: { progs: unknown[]; links: unknown[]; maps: unknown[] };
}

const TITLES = {
  worker: 'worker exits',
  gc: 'garbage collected',
  'worker-watching': 'ring reader still watching (libuv poll and timer), worker terminated',
};

for (const [mode, args] of [
  ['worker', []],
  ['gc', ['--expose-gc']],
  ['worker-watching', []],
] as const) {
  void t.test(`leaked object, ${TITLES[mode]}`, async (t) => {
    const child = await run(process.execPath, [...args, CHILD, mode], { timeoutMs: 30000 });
    if (!t.same({ code: child.code, signal: child.signal }, { code: 0, signal: null }, 'child exits 0')) {
      t.comment(child.stderr);
      return;
    }
    const report = JSON.parse(child.stdout) as Report;
    t.equal(report.ours.progIds.length, 1, 'one program was loaded');
    t.equal(report.ours.linkIds.length, 1, 'one link was made');
    t.ok(report.ours.mapIds.length >= 3, 'and its maps');
    t.same(report.left, { progs: [], links: [], maps: [] }, 'all gone while the process still runs');
  });
}
