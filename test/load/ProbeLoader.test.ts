// ProbeLoader against the real kernel: fallback between variants, and nothing
// of ours left loaded or attached when a probe fails half-way.
import t from 'tap';

import type { KernelFeatures } from '../../src/native/addon';
import { ATTACH_KINDS, addon } from '../../src/native/addon';
import type { LoadSettings } from '../../src/load/ProbeLoader';
import { ProbeLoader, ProbeLoadError } from '../../src/load/ProbeLoader';
import type { ProbeDefinition } from '../../src/probes/ProbeDefinition';
import { BUILTIN_PROBES } from '../../src/probes';
import { execProbe } from '../../src/probes/exec';
import { ensureTracefs } from '../../src/kernel/tracefs';
import { links, mapById, progs, waitGone } from '../helpers/bpftool';
import { spyOnObjects } from '../helpers/spy';

/** A kernel that claims every attach kind works: only the real load/attach can say no. */
const ALL_OK: KernelFeatures = {
  btf: true,
  ringbuf: true,
  attach: Object.fromEntries(ATTACH_KINDS.map((kind) => [kind, { ok: true }])) as KernelFeatures['attach'],
};

const SETTINGS: LoadSettings = { ringBytes: 4096, wakeupBytes: 4096 };

function definition(attach: ProbeDefinition['attach']): ProbeDefinition {
  return { ...execProbe, name: 'exec-test', attach };
}

void t.test('second attach point fails after the first attached: nothing left behind', async (t) => {
  const spy = spyOnObjects(t);
  const probe = definition([
    { name: 'first', variants: [{ kind: 'tp_btf', program: 'exec_tp_btf' }] },
    { name: 'second', variants: [{ kind: 'raw_tp', program: 'exec_raw_tp', target: 'no_such_tracepoint' }] },
  ]);
  let thrown: unknown;
  try {
    new ProbeLoader(ALL_OK).load(probe, SETTINGS).object.close();
  } catch (error) {
    thrown = error;
  }
  t.type(thrown, ProbeLoadError, 'ProbeLoadError');
  const error = thrown as ProbeLoadError;
  t.equal(error.probe, 'exec-test');
  t.match(error.message, /no attach variant works for second/, 'names the attach point that failed');
  t.match(
    error.rejected,
    [{ point: 'second', variant: { target: 'no_such_tracepoint' }, reason: /attach failed: .*no_such_tracepoint/ }],
    'the rejection says which attach failed and why',
  );
  t.equal(spy.progIds.length, 2, 'both programs had been loaded');
  t.equal(spy.linkIds.length, 1, 'the first point had been attached when the second failed');
  // The kernel frees programs after an RCU grace period: poll.
  t.ok(spy.mapIds.length >= 3, `its maps were created (${spy.mapIds.length})`);
  t.same(
    await waitGone(spy.progIds, spy.linkIds, 2500, spy.mapIds),
    { progs: [], links: [], maps: [] },
    'no program, link or map is left',
  );
});

void t.test('a variant that fails to attach falls back to the next one', async (t) => {
  const spy = spyOnObjects(t);
  const probe = definition([
    {
      name: 'exec',
      variants: [
        { kind: 'raw_tp', program: 'exec_raw_tp', target: 'no_such_tracepoint' },
        { kind: 'tp_btf', program: 'exec_tp_btf' },
      ],
    },
  ]);
  const loaded = new ProbeLoader(ALL_OK).load(probe, SETTINGS);
  t.teardown(() => loaded.object.close());
  t.same(loaded.chosen, [{ point: 'exec', variant: { kind: 'tp_btf', program: 'exec_tp_btf' } }], 'tp_btf chosen');
  t.match(loaded.rejected, [{ point: 'exec', variant: { kind: 'raw_tp' }, reason: /attach failed/ }]);
  t.equal(spy.opened, 2, 'two attempts, each a fresh object');
  const kept = new Set(loaded.object.programStats().map((s) => s.id));
  t.equal(kept.size, 1, 'only the chosen program is loaded in the kept object');
  const failedAttempt = spy.progIds.filter((id) => !kept.has(id));
  t.same(await waitGone(failedAttempt, []), { progs: [], links: [] }, 'the failed attempt was unloaded');
  t.same(
    progs()
      .filter((p) => kept.has(p.id))
      .map((p) => p.name),
    ['exec_tp_btf'],
    'the kept program is in the kernel',
  );
  const keptLinks = spy.linkIds.filter((id) => links().some((l) => l.id === id && kept.has(l.prog_id)));
  t.equal(keptLinks.length, 1, 'and attached');
  loaded.object.close();
  t.same(await waitGone(kept, keptLinks), { progs: [], links: [] }, 'close() detaches and unloads it');
});

void t.test('kinds the feature probe rejects are skipped without trying', (t) => {
  const features: KernelFeatures = {
    ...ALL_OK,
    attach: { ...ALL_OK.attach, tp_btf: { ok: false, reason: 'pretend' } },
  };
  const loaded = new ProbeLoader(features).load(execProbe, SETTINGS);
  t.teardown(() => loaded.object.close());
  t.equal(loaded.chosen[0]?.variant.kind, 'raw_tp', 'next variant used');
  t.match(loaded.rejected, [{ variant: { kind: 'tp_btf' }, reason: /tp_btf unavailable: pretend/ }]);
  t.end();
});

void t.test('every built-in probe loads with every map but its ring buffer frozen', (t) => {
  const loader = new ProbeLoader(addon.kernelFeatures());
  const spy = spyOnObjects(t);
  for (const probe of BUILTIN_PROBES) {
    const before = spy.mapIds.length;
    const loaded = loader.load(probe, SETTINGS);
    try {
      const shown = spy.mapIds.slice(before).map(mapById);
      t.ok(shown.length >= 3, `${probe.name}: ${shown.length} maps created`);
      t.same(
        shown.filter((m) => m.frozen !== (m.type === 'ringbuf' ? 0 : 1)).map((m) => `${m.name} ${m.type}`),
        [],
        `${probe.name}: bpftool shows the ring buffers unfrozen and every other map frozen`,
      );
    } finally {
      loaded.object.close();
    }
  }
  t.end();
});

const tracefsNote = ensureTracefs();

void t.test(
  'same kind at every point: a kind failing at one point is dropped at all',
  { skip: tracefsNote ?? false },
  (t) => {
    const probe: ProbeDefinition = {
      ...definition([
        {
          name: 'exec',
          variants: [
            { kind: 'raw_tp', program: 'exec_raw_tp', target: 'sched_process_exec' },
            { kind: 'tracepoint', program: 'exec_tracepoint', target: 'sched/sched_process_exec' },
          ],
        },
        {
          name: 'exit',
          variants: [
            { kind: 'raw_tp', program: 'exit_raw_tp', target: 'no_such_tracepoint' },
            { kind: 'tracepoint', program: 'exit_tracepoint', target: 'sched/sched_process_exit' },
          ],
        },
      ]),
      object: 'process.bpf.o',
      sameKindAtEveryPoint: true,
    };
    const loaded = new ProbeLoader(ALL_OK).load(probe, SETTINGS);
    t.teardown(() => loaded.object.close());
    t.same(
      loaded.chosen.map((c) => c.variant.kind),
      ['tracepoint', 'tracepoint'],
      'exec falls back too, though its raw_tp attached',
    );
    t.match(loaded.rejected, [{ point: 'exit', variant: { kind: 'raw_tp' }, reason: /attach failed/ }]);
    t.end();
  },
);

void t.test('no variant at all: ProbeLoadError listing every reason', (t) => {
  const features: KernelFeatures = {
    ...ALL_OK,
    attach: Object.fromEntries(
      ATTACH_KINDS.map((k) => [k, { ok: false, reason: `no ${k}` }]),
    ) as KernelFeatures['attach'],
  };
  t.throws(() => new ProbeLoader(features).load(execProbe, SETTINGS), {
    name: 'ProbeLoadError',
    message: /no tp_btf.*no raw_tp.*no tracepoint/,
  });
  t.end();
});

void t.test('an object the build did not make is refused before the kernel sees it', (t) => {
  const missing: ProbeDefinition = { ...execProbe, object: 'no_such_object.bpf.o' };
  t.throws(
    () => new ProbeLoader(ALL_OK).load(missing, SETTINGS),
    /no_such_object\.bpf\.o has no sum in .*SHA256SUMS: rebuild with make bpf/,
  );
  t.end();
});
