// Readiness benchmark: how should JS learn that the ring holds data, a libuv
// poll on the ring's fd (RingDrain.start('poll')) or a native thread that
// poll()s it and calls JS through a thread-safe function (start('thread'))?
//
// A real workload fires a real tracepoint: bench/syscall_loop calls getppid()
// at a paced rate and loadgen_sys_enter (tp_btf/sys_enter, filtered to that
// process and to getppid's syscall number) emits one exec_record per call
// through the probes' wakeup policy. The child is spawned first and waits on
// stdin, so the filter can name it before load; then the program is attached,
// the drain started and the child released. Every run is its own node
// process, so runs share no JIT feedback and process.cpuUsage() is one run's.
//
// Per run: records drained, lost (the `drops` map), wakeups (readiness
// callbacks) per second, consumer CPU (the whole node process: event loop,
// readiness thread, GC) per million events, event->drain latency of every
// 16th record (hdr.ts_ns and process.hrtime are both CLOCK_MONOTONIC), and
// drained + lost against the calls the child counted, which must be equal.
//
// usage: node dist/bench/readiness.js [--json] [--seconds S] [--trials N] [--rates 1000,100000,max]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

import { lostEventsOf } from '../src/agent/selfMetrics';
import { DEFAULT_OPTIONS } from '../src/config/AgentOptions';
import { RecordLayout } from '../src/decode/RecordLayout';
import type { RecordSink } from '../src/drain/RecordLoop';
import { RingDrain } from '../src/drain/RingDrain';
import { u32, u64 } from '../src/load/ProbeLoader';
import type { ReadinessMode } from '../src/native/addon';
import { READINESS_MODES, addon } from '../src/native/addon';
import { LOADGEN_OBJECT, SYSCALL_LOOP, spawnLoop } from './generator';
import { loadAverage, machine } from './machine';
import { printColumns } from './report';

const PROGRAM = 'loadgen_sys_enter';
const SAMPLE_EVERY = 16; // latency of every 16th record
const HISTOGRAM_US = 1 << 22; // 1 us buckets, the last one catches everything from ~4.2 s
const BLOCK_MS = 50;
const BLOCK_EVERY_MS = 200;
const USAGE = 'usage: node dist/bench/readiness.js [--json] [--seconds S] [--trials N] [--rates 1000,100000,max]';

interface Policy {
  name: 'default' | 'eager' | 'small';
  ringBytes: number;
  wakeupBytes: number;
  intervalMs: number;
}

const POLICIES: Policy[] = [
  {
    name: 'default',
    ringBytes: DEFAULT_OPTIONS.ringBytes,
    wakeupBytes: DEFAULT_OPTIONS.wakeupBytes,
    intervalMs: DEFAULT_OPTIONS.drainIntervalMs,
  },
  // A wakeup per record: the kernel wakes the reader on every submit.
  { name: 'eager', ringBytes: DEFAULT_OPTIONS.ringBytes, wakeupBytes: 1, intervalMs: DEFAULT_OPTIONS.drainIntervalMs },
];

/**
 * For the blocked runs only: a ring smaller than rate x block, so records are
 * lost while the event loop is blocked, whoever waits for readiness.
 */
const SMALL: Policy = {
  name: 'small',
  ringBytes: 1 << 20,
  wakeupBytes: 1 << 18,
  intervalMs: DEFAULT_OPTIONS.drainIntervalMs,
};

/** One run: a readiness mode, a wakeup policy, a rate (0: unpaced), maybe a blocked event loop. */
interface RunSpec {
  mode: ReadinessMode;
  policy: Policy;
  rate: number;
  seconds: number;
  blocked: boolean;
}

interface RunResult {
  /** getppid() calls the child made (its own count). */
  calls: number;
  /** Child's achieved rate. */
  callsPerS: number;
  drained: number;
  lost: number;
  /** drained + lost - calls: 0 when every call is accounted for. */
  difference: number;
  wakeups: number;
  wakeupsPerS: number;
  /**
   * Consumer CPU over the run (user + system, whole process). A blocked run's
   * busy-waits are excluded: the process CPU measured across each of them.
   */
  cpuMs: number;
  cpuPercent: number;
  cpuMsPerMillion: number;
  /** BPF program run time per event (BPF_ENABLE_STATS): the producer's cost in the kernel, wakeups excluded. */
  bpfNsPerEvent: number;
  latencyMs: { p50: number; p99: number; max: number; samples: number };
  /** Event-loop time spent busy-waiting (blocked runs). */
  blockedMs: number;
  wallMs: number;
}

interface Settings {
  json: boolean;
  seconds: number;
  trials: number;
  rates: number[];
}

interface Row {
  spec: Omit<RunSpec, 'seconds'>;
  /** Per-metric medians over the trials. */
  median: RunResult;
  trials: RunResult[];
}

function parseRate(text: string): number {
  if (text === 'max') return 0;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`invalid --rates entry ${text}\n${USAGE}`);
  return value;
}

function positive(flag: string, text: string | undefined, integer: boolean): number {
  const value = Number(text);
  if (!(value > 0) || (integer && !Number.isSafeInteger(value))) {
    throw new Error(`invalid ${flag}: ${text}; expected a positive ${integer ? 'integer' : 'number'}\n${USAGE}`);
  }
  return value;
}

function parseArgs(argv: string[]): Settings {
  const settings: Settings = { json: false, seconds: 3, trials: 5, rates: [1000, 100000, 0] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') settings.json = true;
    else if (arg === '--seconds') settings.seconds = positive('--seconds', argv[++i], false);
    else if (arg === '--trials') settings.trials = positive('--trials', argv[++i], true);
    else if (arg === '--rates') settings.rates = (argv[++i] ?? '').split(',').map(parseRate);
    else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  return settings;
}

const rateName = (rate: number): string =>
  rate === 0 ? 'max' : rate >= 1000 && rate % 1000 === 0 ? `${rate / 1000}k` : String(rate);

/** Latency sampling sink: every SAMPLE_EVERY-th record, now - hdr.ts_ns into a 1 us histogram. */
class LatencySink implements RecordSink {
  readonly histogram = new Float64Array(HISTOGRAM_US);
  private readonly seen = new Uint32Array(1);

  constructor(private readonly tsOffset: number) {}

  recordCode(): { prelude: string; body: string; state: unknown } {
    const ts = this.tsOffset;
    if (ts % 8 !== 0) throw new Error(`hdr.ts_ns at ${ts} is not 8-aligned`);
    return {
      // One clock read per batch: the records of a batch are read within microseconds.
      prelude:
        'const now = Number(process.hrtime.bigint()); const seen = state.seen; const histogram = state.histogram;',
      body: `if ((seen[0]++ & ${SAMPLE_EVERY - 1}) === 0) {
  const ts = (words[(record + ${ts}) >> 2] >>> 0) + words[(record + ${ts + 4}) >> 2] * 4294967296;
  const us = Math.floor((now - ts) / 1000);
  histogram[us < 0 ? 0 : us < ${HISTOGRAM_US - 1} ? us : ${HISTOGRAM_US - 1}]++;
}`,
      state: { seen: this.seen, histogram: this.histogram },
    };
  }

  latency(): RunResult['latencyMs'] {
    let samples = 0;
    let max = 0;
    for (let us = 0; us < HISTOGRAM_US; us++) {
      if (this.histogram[us] === 0) continue;
      samples += this.histogram[us];
      max = us;
    }
    const percentile = (p: number): number => {
      const rank = Math.ceil(samples * p);
      let cumulative = 0;
      for (let us = 0; us < HISTOGRAM_US; us++) {
        cumulative += this.histogram[us];
        if (cumulative >= rank) return us;
      }
      return max;
    };
    // Bucket us -> ms, upper edge of the bucket.
    const ms = (us: number): number => (us + 1) / 1000;
    return samples
      ? { p50: ms(percentile(0.5)), p99: ms(percentile(0.99)), max: ms(max), samples }
      : { p50: 0, p99: 0, max: 0, samples };
  }
}

/** One run, in this process (the --child side). */
async function runOnce(spec: RunSpec): Promise<RunResult> {
  const { child, lines, pid, syscall } = await spawnLoop(spec.rate, spec.seconds);
  if (pid !== child.pid) throw new Error(`syscall_loop says pid ${pid}, spawn says ${child.pid}`);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const object = new addon.BpfObject(LOADGEN_OBJECT, 'readiness');
  let drain: RingDrain | undefined;
  let blocker: NodeJS.Timeout | undefined;
  try {
    object.setAutoload('loadgen', false);
    object.setAutoload(PROGRAM, true);
    object.setMaxEntries('events', spec.policy.ringBytes);
    object.setConstant('wakeup_bytes', u64(spec.policy.wakeupBytes));
    object.setConstant('targ_tgid', u32(pid));
    object.setConstant('targ_syscall', u64(syscall));
    object.load();
    const layout = RecordLayout.fromObject(object, 'exec_record');
    const sink = new LatencySink(layout.field('hdr.ts_ns').offset);
    drain = new RingDrain(object, sink, { intervalMs: spec.policy.intervalMs });
    object.attach(PROGRAM, 'tp_btf');
    addon.enableRunTimeStats();
    const statsBefore = object.programStats().find((s) => s.name === PROGRAM);
    drain.start(spec.mode);

    let blockedMs = 0;
    let blockedCpuMs = 0;
    if (spec.blocked) {
      blocker = setInterval(() => {
        const start = performance.now();
        const cpu = process.cpuUsage();
        while (performance.now() - start < BLOCK_MS);
        const spent = process.cpuUsage(cpu);
        blockedCpuMs += (spent.user + spent.system) / 1000;
        blockedMs += performance.now() - start;
      }, BLOCK_EVERY_MS);
    }
    const cpuBefore = process.cpuUsage();
    const wallBefore = process.hrtime.bigint();
    child.stdin.write('go\n');
    const report = await lines.next();
    const code = await exited;
    if (code !== 0 || report.done) throw new Error(`syscall_loop exited ${code}`);
    if (blocker) clearInterval(blocker);
    drain.stop(); // a last drain: everything the child produced is in the ring or lost
    const stopped = drain;
    drain = undefined;
    const wallMs = Number(process.hrtime.bigint() - wallBefore) / 1e6;
    const cpu = process.cpuUsage(cpuBefore);
    const statsAfter = object.programStats().find((s) => s.name === PROGRAM);

    const { calls, seconds } = JSON.parse(report.value) as { calls: number; seconds: number };
    const drained = stopped.records;
    const lost = lostEventsOf(object);
    const cpuMs = (cpu.user + cpu.system) / 1000 - blockedCpuMs;
    const events = drained + lost;
    const bpfRuns = (statsAfter?.runCount ?? 0) - (statsBefore?.runCount ?? 0);
    const bpfNs = (statsAfter?.runTimeNs ?? 0) - (statsBefore?.runTimeNs ?? 0);
    return {
      calls,
      callsPerS: calls / seconds,
      drained,
      lost,
      difference: events - calls,
      wakeups: stopped.wakeups,
      wakeupsPerS: stopped.wakeups / (wallMs / 1000),
      cpuMs,
      cpuPercent: (100 * cpuMs) / wallMs,
      cpuMsPerMillion: events ? cpuMs / (events / 1e6) : 0,
      bpfNsPerEvent: bpfRuns ? bpfNs / bpfRuns : 0,
      latencyMs: sink.latency(),
      blockedMs,
      wallMs,
    };
  } finally {
    if (blocker) clearInterval(blocker);
    if (child.exitCode === null) child.kill();
    drain?.stop();
    object.close();
  }
}

/** Runs one spec in a fresh node process. */
function runInChild(spec: RunSpec): RunResult {
  const out = execFileSync(process.execPath, [__filename, '--child', JSON.stringify(spec)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out) as RunResult;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Per-metric medians over trials. */
function medianResult(trials: RunResult[]): RunResult {
  const m = (pick: (r: RunResult) => number): number => median(trials.map(pick));
  return {
    calls: m((r) => r.calls),
    callsPerS: m((r) => r.callsPerS),
    drained: m((r) => r.drained),
    lost: m((r) => r.lost),
    difference: m((r) => r.difference),
    wakeups: m((r) => r.wakeups),
    wakeupsPerS: m((r) => r.wakeupsPerS),
    cpuMs: m((r) => r.cpuMs),
    cpuPercent: m((r) => r.cpuPercent),
    cpuMsPerMillion: m((r) => r.cpuMsPerMillion),
    bpfNsPerEvent: m((r) => r.bpfNsPerEvent),
    latencyMs: {
      p50: m((r) => r.latencyMs.p50),
      p99: m((r) => r.latencyMs.p99),
      max: m((r) => r.latencyMs.max),
      samples: m((r) => r.latencyMs.samples),
    },
    blockedMs: m((r) => r.blockedMs),
    wallMs: m((r) => r.wallMs),
  };
}

function specs(settings: Settings): Omit<RunSpec, 'seconds'>[] {
  const out: Omit<RunSpec, 'seconds'>[] = [];
  for (const policy of POLICIES)
    for (const rate of settings.rates)
      for (const mode of READINESS_MODES) out.push({ mode, policy, rate, blocked: false });
  // The event loop blocked 50 ms every 200 ms at the highest rate: what each mode loses,
  // with the default ring and with one too small for rate x block.
  const high = settings.rates.includes(0) ? 0 : Math.max(...settings.rates);
  for (const policy of [POLICIES[0], SMALL])
    for (const mode of READINESS_MODES) out.push({ mode, policy, rate: high, blocked: true });
  return out;
}

const lostPercent = (r: RunResult): number => (100 * r.lost) / Math.max(1, r.drained + r.lost);

function fixed(value: number, digits: number): string {
  return value.toFixed(digits);
}

/** min-max over trials, or one value when they agree. */
function range(values: number[], digits: number): string {
  const low = fixed(Math.min(...values), digits);
  const high = fixed(Math.max(...values), digits);
  return low === high ? low : `${low}-${high}`;
}

function printTable(info: Record<string, string | number>, settings: Settings, rows: Row[]): void {
  console.log(
    `cpu: ${info.cpu} (${info.cores} cores)  kernel: ${info.kernel}  libbpf: ${info.libbpf}  node: ${info.node}\n` +
      `load average (1/5/15 min) at start: ${info.load}, at end: ${loadAverage()}`,
  );
  console.log(
    `workload: syscall_loop getppid() -> tp_btf/sys_enter -> exec_record (192 B in the ring), ` +
      `${settings.seconds} s per run, per-metric median of ${settings.trials} trials; ` +
      `default = ${POLICIES[0].ringBytes >> 20} MiB ring, wakeup_bytes ${POLICIES[0].wakeupBytes >> 20} MiB, ` +
      `${POLICIES[0].intervalMs} ms timer; eager = wakeup_bytes 1 (a wakeup per record); ` +
      `small = ${SMALL.ringBytes >> 20} MiB ring, wakeup_bytes ${SMALL.wakeupBytes >> 10} KiB; ` +
      `+block = event loop busy ${BLOCK_MS} ms every ${BLOCK_EVERY_MS} ms (its CPU not counted)\n`,
  );
  const header = [
    'policy',
    'rate/s',
    'mode',
    'calls/s',
    'drained',
    'lost',
    'lost % range',
    'check',
    'wakeups/s',
    'cpu %',
    'cpu % range',
    'cpu ms/M ev',
    'bpf ns/ev',
    'p50 ms',
    'p99 ms',
    'max ms',
  ];
  const lines = rows.map(({ spec, median: r, trials }) => [
    spec.policy.name + (spec.blocked ? ' +block' : ''),
    rateName(spec.rate),
    spec.mode,
    fixed(r.callsPerS, 0),
    fixed(r.drained, 0),
    fixed(r.lost, 0),
    range(trials.map(lostPercent), 1),
    trials.every((t) => t.difference === 0) ? 'exact' : `off ${trials.map((t) => t.difference).join('/')}`,
    fixed(r.wakeupsPerS, 0),
    fixed(r.cpuPercent, 1),
    range(
      trials.map((t) => t.cpuPercent),
      1,
    ),
    fixed(r.cpuMsPerMillion, 0),
    fixed(r.bpfNsPerEvent, 0),
    fixed(r.latencyMs.p50, 2),
    fixed(r.latencyMs.p99, 2),
    fixed(r.latencyMs.max, 2),
  ]);
  printColumns(header, lines);
  console.log();
  for (const line of verdict(rows)) console.log(line);
}

/**
 * The thread must earn its complexity: it wins only if it costs clearly less
 * CPU per event (10%+) in most unblocked rows where readiness fired at all, or
 * loses clearly fewer records with the event loop blocked, without a worse
 * p99 latency.
 */
function verdict(rows: Row[]): string[] {
  const find = (mode: ReadinessMode, other: Row): Row | undefined =>
    rows.find(
      (r) =>
        r.spec.mode === mode &&
        r.spec.policy.name === other.spec.policy.name &&
        r.spec.rate === other.spec.rate &&
        r.spec.blocked === other.spec.blocked,
    );
  const lines: string[] = [];
  let cheaper = 0;
  let dearer = 0;
  let worseP99 = 0;
  let compared = 0;
  let idle = 0;
  for (const poll of rows.filter((r) => r.spec.mode === 'poll')) {
    const thread = find('thread', poll);
    if (!thread) continue;
    const cpu = thread.median.cpuMsPerMillion / poll.median.cpuMsPerMillion;
    const p99 = thread.median.latencyMs.p99 - poll.median.latencyMs.p99;
    const label = `${poll.spec.policy.name}${poll.spec.blocked ? '+block' : ''} @ ${rateName(poll.spec.rate)}`;
    lines.push(
      `${label}: thread/poll cpu per event ${cpu.toFixed(2)}, wakeups/s ${fixed(thread.median.wakeupsPerS, 0)} vs ` +
        `${fixed(poll.median.wakeupsPerS, 0)}, p99 ${p99 >= 0 ? '+' : ''}${p99.toFixed(2)} ms, ` +
        `lost ${fixed(lostPercent(thread.median), 1)}% vs ${fixed(lostPercent(poll.median), 1)}%`,
    );
    if (poll.spec.blocked) continue;
    // Without readiness callbacks both modes run the same code (the timer's): a difference is noise.
    if (poll.median.wakeups === 0 && thread.median.wakeups === 0) {
      idle++;
      continue;
    }
    compared++;
    if (cpu < 0.9) cheaper++;
    if (cpu > 1.1) dearer++;
    if (p99 > Math.max(1, 0.2 * poll.median.latencyMs.p99)) worseP99++;
  }
  // Loss as a share of events (the modes need not produce as many), and only
  // "clearly fewer" when every thread trial lost less than every poll trial:
  // how much is lost while the loop is blocked swings with the producer's rate.
  const fewerLosses = rows
    .filter((r) => r.spec.blocked && r.spec.mode === 'poll' && r.median.lost > 0)
    .some((poll) => {
      const thread = find('thread', poll);
      return (
        thread !== undefined && Math.max(...thread.trials.map(lostPercent)) < Math.min(...poll.trials.map(lostPercent))
      );
    });
  const threadWins = (cheaper > compared / 2 || fewerLosses) && worseP99 === 0;
  lines.push(
    `verdict: ${threadWins ? 'the native thread' : 'keep the libuv poll'} ` +
      `(thread clearly cheaper in ${cheaper}/${compared} rows, clearly dearer in ${dearer}/${compared}, ` +
      `worse p99 in ${worseP99}/${compared}; ` +
      `fewer losses in every trial with the loop blocked: ${fewerLosses ? 'yes' : 'no'}; ` +
      `${idle} unblocked rows without any wakeup, where the two are the same code)`,
  );
  return lines;
}

async function child(json: string): Promise<void> {
  const spec = JSON.parse(json) as RunSpec;
  const result = await runOnce(spec);
  console.log(JSON.stringify(result));
}

function main(): number {
  const settings = parseArgs(process.argv.slice(2));
  for (const file of [SYSCALL_LOOP, LOADGEN_OBJECT]) {
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: run make bpf and make -C bench`);
  }
  const info = machine();
  const all = specs(settings);
  const trials: RunResult[][] = all.map(() => []);
  // Trials interleaved, so drift on a shared VM hits every configuration alike.
  for (let trial = 0; trial < settings.trials; trial++) {
    all.forEach((spec, i) => trials[i].push(runInChild({ ...spec, seconds: settings.seconds })));
  }
  const rows: Row[] = all.map((spec, i) => ({ spec, median: medianResult(trials[i]), trials: trials[i] }));
  const problems = rows.flatMap((row) =>
    row.trials
      .filter((t) => t.difference !== 0)
      .map(
        (t) =>
          `${row.spec.mode} ${row.spec.policy.name} ${rateName(row.spec.rate)}${row.spec.blocked ? ' blocked' : ''}: ` +
          `drained ${t.drained} + lost ${t.lost} != ${t.calls} calls`,
      ),
  );
  if (settings.json) console.log(JSON.stringify({ machine: info, settings, rows, problems }, null, 2));
  else printTable(info, settings, rows);
  for (const problem of problems) console.error(`counts do not verify: ${problem}`);
  return problems.length ? 1 : 0;
}

if (process.argv[2] === '--child') {
  child(process.argv[3] ?? '').catch((error: unknown) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exitCode = 1;
  });
} else {
  try {
    process.exitCode = main();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
