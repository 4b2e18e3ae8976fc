// Stream benchmark: steady streams of exec records produced in the kernel at
// paced rates, drained with the agent's default policy (4 MiB ring, wakeup
// past 1 MiB, 20 ms timer) by the pure C libbpf consumer (bench/c_consumer.c
// --stream) and by kernscope's real path (RingDrain into the exec probe's
// ProbeAggregator, comm label on, as bench/drain.ts runs it), each run in its
// own process.
//
// The consumer loads bpf/loadgen.bpf.o (so it owns the ring) and prints the
// loadgen program's id; bench/stream_gen then runs that program through
// BPF_PROG_TEST_RUN in paced 1 ms rounds from another process; once the
// producer is done, SIGTERM makes the consumer drain what is left and report.
// Every run checks drained + lost (the drops map) = produced, exactly.
// Two more kinds of row: `idle` (no producer: what each consumer's wakeups
// and timer cost with nothing to drain, the fixed part of its CPU), and the
// `eager` policy at --eager-rates (a wakeup per record: the latency a
// consumer can give, and its CPU).
//
// usage: node dist/bench/stream.js [--json] [--seconds S] [--trials N]
//          [--rates idle,10000,100000,1000000,max] [--eager-rates 10000] [--producers N]
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';

import { preferSmallHeapAfterStartUp } from '../src/agent/heapPolicy';
import { lostEventsOf } from '../src/load/lostEvents';
import { ProbeAggregator } from '../src/aggregate/ProbeAggregator';
import { DEFAULT_OPTIONS } from '../src/config/AgentOptions';
import { ResolvedRecord } from '../src/decode/ResolvedRecord';
import type { RecordSink } from '../src/drain/RecordLoop';
import { RingDrain } from '../src/drain/RingDrain';
import { u64 } from '../src/load/ProbeLoader';
import { PACKAGE_ROOT, addon } from '../src/native/addon';
import { execProbe } from '../src/probes/exec';
import { LOADGEN_OBJECT } from './generator';
import { loadAverage, machine } from './machine';
import { printColumns } from './report';

const C_CONSUMER = path.join(PACKAGE_ROOT, 'dist', 'bench', 'c_consumer');
const STREAM_GEN = path.join(PACKAGE_ROOT, 'dist', 'bench', 'stream_gen');
const PROGRAM = 'loadgen';
const COMMS = 16; // loadgen cycles through loadgen-a .. loadgen-p
const SAMPLE_EVERY = 16; // latency of every 16th record, as c_consumer samples it
const HISTOGRAM_US = 1 << 22; // 1 us buckets, the last one catches everything from ~4.2 s
// kernscope is warmed up untimed first, so TurboFan has optimised the drain loop (as drain.ts does).
const WARMUP_RECORDS = 1 << 18;
const WARMUP_ROUND = 4096;
/** Time for V8's concurrent sweeping after the forced collection. */
const GC_SETTLE_MS = 500;
const CONSUMERS = ['c-libbpf', 'kernscope'] as const;
const USAGE =
  'usage: node dist/bench/stream.js [--json] [--seconds S] [--trials N] ' +
  '[--rates idle,10000,100000,1000000,max] [--eager-rates 10000] [--producers N]';
/** The `idle` rate: no producer runs. */
const IDLE = -1;

/** What both consumers of a row run with: `default` is the agent's defaults. */
const POLICIES = {
  default: {
    ringBytes: DEFAULT_OPTIONS.ringBytes,
    wakeupBytes: DEFAULT_OPTIONS.wakeupBytes,
    intervalMs: DEFAULT_OPTIONS.drainIntervalMs,
  },
  eager: { ringBytes: DEFAULT_OPTIONS.ringBytes, wakeupBytes: 1, intervalMs: DEFAULT_OPTIONS.drainIntervalMs },
};
const POLICY = POLICIES.default;

type Consumer = (typeof CONSUMERS)[number];
type PolicyName = keyof typeof POLICIES;

interface Settings {
  json: boolean;
  seconds: number;
  trials: number;
  /** Records per second; 0: as fast as the producer goes; IDLE: no producer. */
  rates: number[];
  /** Rates also run with the eager policy. */
  eagerRates: number[];
  /** stream_gen threads, splitting the rate. */
  producers: number;
}

/** What a consumer prints when it stops; c_consumer --stream prints the same keys. */
interface ConsumerReport {
  records: number;
  lost: number;
  /** Drains that found records (kernscope: walks; C: ring_buffer__consume() calls). */
  batches: number;
  /** Readiness callbacks (C: epoll reported the ring readable); timer drains not counted. */
  wakeups: number;
  drain_ns: number;
  cpu_ns: number;
  wall_ns: number;
  distinct_comms: number;
  /** [bucket (us), count] of the non-empty 1 us buckets, ascending. */
  latency_us: [number, number][];
  problems: string[];
}

interface ProducerReport {
  produced: number;
  seconds: number;
  runs: number;
  cpu_seconds: number;
}

interface RunResult {
  produced: number;
  /** Records per second the producer achieved. */
  rate: number;
  producerCpuPercent: number;
  drained: number;
  lost: number;
  /** drained + lost - produced: 0 when every record is accounted for. */
  difference: number;
  recordsPerBatch: number;
  wakeupsPerS: number;
  drainNsPerRecord: number;
  /** Consumer process CPU (user + system) over its run, as a share of one core. */
  cpuPercent: number;
  /** The same per 100k records/s: CPU seconds per 100k records, in % of a core. */
  cpuPercentPer100k: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  problems: string[];
}

interface Row {
  rate: number;
  policy: PolicyName;
  consumer: Consumer;
  trials: RunResult[];
}

function positive(flag: string, text: string | undefined, integer: boolean): number {
  const value = Number(text);
  if (!(value > 0) || (integer && !Number.isSafeInteger(value))) {
    throw new Error(`invalid ${flag}: ${text}; expected a positive ${integer ? 'integer' : 'number'}\n${USAGE}`);
  }
  return value;
}

function parseRate(text: string): number {
  return text === 'max' ? 0 : text === 'idle' ? IDLE : positive('--rates entry', text, true);
}

function parseArgs(argv: string[]): Settings {
  const settings: Settings = {
    json: false,
    seconds: 10,
    trials: 3,
    rates: [IDLE, 10000, 100000, 1000000, 0],
    eagerRates: [10000],
    producers: 1,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') settings.json = true;
    else if (arg === '--seconds') settings.seconds = positive('--seconds', argv[++i], false);
    else if (arg === '--trials') settings.trials = positive('--trials', argv[++i], true);
    else if (arg === '--rates') settings.rates = (argv[++i] ?? '').split(',').map(parseRate);
    else if (arg === '--eager-rates') {
      const list = argv[++i] ?? '';
      settings.eagerRates = list === '' ? [] : list.split(',').map((r) => positive('--eager-rates entry', r, true));
    } else if (arg === '--producers') settings.producers = positive('--producers', argv[++i], true);
    else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  return settings;
}

const rateName = (rate: number): string =>
  rate === IDLE
    ? 'idle'
    : rate === 0
      ? 'max'
      : rate % 1e6 === 0
        ? `${rate / 1e6}M`
        : rate % 1000 === 0
          ? `${rate / 1000}k`
          : String(rate);

/** A rate in running text: 10k/s, 1M/s, max, idle. */
const rateText = (rate: number): string => (rate <= 0 ? rateName(rate) : `${rateName(rate)}/s`);

/** The exec probe's aggregator with a latency histogram beside it, which sampledSink fills. */
class SampledAggregator extends ProbeAggregator {
  readonly latencySeen = new Uint32Array(1);
  readonly latencyUs = new Uint32Array(HISTOGRAM_US);
}

/**
 * The aggregator's per-record code, then, for every SAMPLE_EVERY-th record,
 * now - hdr.ts_ns into a 1 us histogram (both CLOCK_MONOTONIC; the clock read
 * once per batch): the latency to the record being aggregated.
 */
function sampledSink(aggregator: SampledAggregator, tsOffset: number): RecordSink {
  if (tsOffset % 8 !== 0) throw new Error(`hdr.ts_ns at ${tsOffset} is not 8-aligned`);
  return {
    recordCode() {
      const code = aggregator.recordCode();
      if (code.state !== aggregator) throw new Error('ProbeAggregator code must take the aggregator as its state');
      return {
        prelude: `${code.prelude}
const latencyNow = Number(process.hrtime.bigint());
const latencySeen = state.latencySeen;
const latencyUs = state.latencyUs;`,
        body: `${code.body}
if ((latencySeen[0]++ & ${SAMPLE_EVERY - 1}) === 0) {
  const ts = (words[(record + ${tsOffset}) >> 2] >>> 0) + words[(record + ${tsOffset + 4}) >> 2] * 4294967296;
  const us = Math.floor((latencyNow - ts) / 1000);
  latencyUs[us < 0 ? 0 : us < ${HISTOGRAM_US - 1} ? us : ${HISTOGRAM_US - 1}]++;
}`,
        state: aggregator,
      };
    },
  };
}

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('the kernscope consumer needs --expose-gc');
  gc();
}

/** RingDrain that also times its drains (readiness, timer and the last one alike). */
class TimedDrain extends RingDrain {
  drainMs = 0;

  override drain(): number {
    const start = performance.now();
    const records = super.drain();
    this.drainMs += performance.now() - start;
    return records;
  }
}

/** `--child POLICY`: kernscope's consumer. Loads, warms up, prints "ready PROG_ID", drains until SIGTERM, reports. */
async function child(policy: (typeof POLICIES)[PolicyName]): Promise<void> {
  preferSmallHeapAfterStartUp();
  const object = new addon.BpfObject(LOADGEN_OBJECT, 'stream');
  let drain: TimedDrain | undefined;
  try {
    object.setMaxEntries('events', policy.ringBytes);
    object.setConstant('wakeup_bytes', u64(policy.wakeupBytes));
    object.load();
    const record = ResolvedRecord.resolve(object, 'loadgen', execProbe.record);
    const aggregator = new SampledAggregator(execProbe, record, {
      limits: { maxSeries: DEFAULT_OPTIONS.maxSeriesPerMetric, ttlMs: 0 },
    });
    drain = new TimedDrain(object, sampledSink(aggregator, record.layout.field('hdr.ts_ns').offset), {
      intervalMs: policy.intervalMs,
    });
    for (let warm = 0; warm < WARMUP_RECORDS; warm += WARMUP_ROUND) {
      if (object.testRun(PROGRAM, [WARMUP_ROUND]) !== 0) throw new Error(`${PROGRAM} failed`);
      drain.drain();
    }
    // The warm-up's garbage is collected now, not billed to the run (the C consumer has none).
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, GC_SETTLE_MS));
    aggregator.latencyUs.fill(0);
    const before = { records: drain.records, batches: drain.batches, lost: lostEventsOf(object), ms: drain.drainMs };
    const id = object.programStats().find((s) => s.name === PROGRAM)?.id;
    if (id === undefined) throw new Error(`no ${PROGRAM} program`);

    const stopped = new Promise((resolve) => process.once('SIGTERM', resolve));
    drain.start();
    const cpu = process.cpuUsage();
    const wall = process.hrtime.bigint();
    console.log(`ready ${id}`);
    await stopped;
    drain.stop(); // a last drain: the producer is done, what it wrote is in the ring or lost
    const used = process.cpuUsage(cpu);
    const wallNs = Number(process.hrtime.bigint() - wall);

    const problems: string[] = [];
    if (aggregator.invalid !== 0) problems.push(`${aggregator.invalid} records failed the header check`);
    const samples = aggregator.counters[0].collect();
    const sum = samples.reduce((total, s) => total + s.value, 0);
    if (sum !== drain.records) problems.push(`the comm counts sum to ${sum}, ${drain.records} records were drained`);
    const latency: [number, number][] = [];
    aggregator.latencyUs.forEach((count, us) => {
      if (count) latency.push([us, count]);
    });
    const report: ConsumerReport = {
      records: drain.records - before.records,
      lost: lostEventsOf(object) - before.lost,
      batches: drain.batches - before.batches,
      wakeups: drain.wakeups,
      drain_ns: (drain.drainMs - before.ms) * 1e6,
      cpu_ns: (used.user + used.system) * 1000,
      wall_ns: wallNs,
      distinct_comms: samples.length,
      latency_us: latency,
      problems,
    };
    drain = undefined;
    console.log(JSON.stringify(report));
  } finally {
    drain?.stop();
    object.close();
  }
}

/** p50, p99 and max (ms, upper edge of the 1 us bucket) of a sparse histogram. */
function percentiles(histogram: [number, number][]): { p50: number; p99: number; max: number } {
  const samples = histogram.reduce((total, [, count]) => total + count, 0);
  if (samples === 0) return { p50: 0, p99: 0, max: 0 };
  const at = (p: number): number => {
    const rank = Math.ceil(samples * p);
    let cumulative = 0;
    for (const [us, count] of histogram) {
      cumulative += count;
      if (cumulative >= rank) return us;
    }
    return histogram[histogram.length - 1][0];
  };
  const ms = (us: number): number => (us + 1) / 1000;
  return { p50: ms(at(0.5)), p99: ms(at(0.99)), max: ms(histogram[histogram.length - 1][0]) };
}

async function produce(programId: string, rate: number, settings: Settings): Promise<ProducerReport> {
  const { stdout } = await promisify(execFile)(
    STREAM_GEN,
    [programId, rate === 0 ? 'max' : String(rate), String(settings.seconds), String(settings.producers)],
    { encoding: 'utf8', timeout: (settings.seconds + 60) * 1000 },
  );
  return JSON.parse(stdout) as ProducerReport;
}

async function idleFor(seconds: number): Promise<ProducerReport> {
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return { produced: 0, seconds, runs: 0, cpu_seconds: 0 };
}

/** One run: a consumer process, a producer process at `rate`, and the consumer's report once stopped. */
async function runOnce(row: Row, settings: Settings): Promise<RunResult> {
  const { consumer, rate } = row;
  const policy = POLICIES[row.policy];
  const [file, args] =
    consumer === 'c-libbpf'
      ? [
          C_CONSUMER,
          ['--stream', LOADGEN_OBJECT, String(policy.ringBytes), String(policy.wakeupBytes), String(policy.intervalMs)],
        ]
      : [process.execPath, ['--expose-gc', __filename, '--child', row.policy]];
  const proc = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const lines = readline.createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  try {
    const ready = await lines.next();
    const id = ready.done ? undefined : /^ready (\d+)$/.exec(ready.value)?.[1];
    if (id === undefined) throw new Error(`${consumer} did not get ready: ${ready.done ? 'no output' : ready.value}`);
    const producer = rate === IDLE ? await idleFor(settings.seconds) : await produce(id, rate, settings);
    proc.kill('SIGTERM');
    const last = await lines.next();
    const code = await exited;
    if (code !== 0 || last.done) throw new Error(`${consumer} exited ${code}`);
    const report = JSON.parse(last.value) as ConsumerReport;
    const problems = [...report.problems];
    if (report.records >= COMMS && report.distinct_comms !== COMMS) {
      problems.push(`${report.distinct_comms} distinct comms, expected ${COMMS}`);
    }
    const latency = percentiles(report.latency_us);
    const cpuPercent = (100 * report.cpu_ns) / report.wall_ns;
    const events = report.records + report.lost;
    return {
      produced: producer.produced,
      rate: producer.produced / producer.seconds,
      producerCpuPercent: (100 * producer.cpu_seconds) / producer.seconds,
      drained: report.records,
      lost: report.lost,
      difference: events - producer.produced,
      recordsPerBatch: report.batches ? report.records / report.batches : 0,
      wakeupsPerS: report.wakeups / (report.wall_ns / 1e9),
      drainNsPerRecord: report.records ? report.drain_ns / report.records : 0,
      cpuPercent,
      cpuPercentPer100k: events ? (100 * report.cpu_ns) / 1e9 / (events / 1e5) : 0,
      p50Ms: latency.p50,
      p99Ms: latency.p99,
      maxMs: latency.max,
      problems,
    };
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The table's numeric columns, each a per-metric median over trials. */
const COLUMNS: { header: string; digits: number; value: (r: RunResult) => number }[] = [
  { header: 'achieved/s', digits: 0, value: (r) => r.rate },
  { header: 'gen cpu %', digits: 0, value: (r) => r.producerCpuPercent },
  { header: 'drained', digits: 0, value: (r) => r.drained },
  { header: 'lost', digits: 0, value: (r) => r.lost },
  { header: 'rec/batch', digits: 1, value: (r) => r.recordsPerBatch },
  { header: 'wakeups/s', digits: 0, value: (r) => r.wakeupsPerS },
  { header: 'drain ns/rec', digits: 2, value: (r) => r.drainNsPerRecord },
  { header: 'cpu %', digits: 2, value: (r) => r.cpuPercent },
  { header: 'cpu %/100k/s', digits: 3, value: (r) => r.cpuPercentPer100k },
  { header: 'p50 ms', digits: 3, value: (r) => r.p50Ms },
  { header: 'p99 ms', digits: 3, value: (r) => r.p99Ms },
  { header: 'max ms', digits: 3, value: (r) => r.maxMs },
];

const medianOf = (row: Row, value: (r: RunResult) => number): number => median(row.trials.map(value));

function printTable(info: Record<string, string | number>, settings: Settings, rows: Row[]): void {
  console.log(`cpu: ${info.cpu} (${info.cores} cores)  kernel: ${info.kernel}  libbpf: ${info.libbpf}`);
  console.log(`node: ${info.node}  clang: ${info.clang}`);
  console.log(`load average (1/5/15 min) at start: ${info.load}, at end: ${loadAverage()}`);
  console.log(
    `workload: loadgen exec_record (192 B in the ring) by BPF_PROG_TEST_RUN in 1 ms rounds, ` +
      `${settings.producers} producer thread(s), ${settings.seconds} s per run, per-metric median of ` +
      `${settings.trials} trials; policy default: ${POLICY.ringBytes >> 20} MiB ring, wakeup past ` +
      `${POLICY.wakeupBytes >> 20} MiB, ${POLICY.intervalMs} ms timer (the agent's); eager: a wakeup per record\n`,
  );
  const header = ['rate/s', 'policy', 'consumer', ...COLUMNS.map((c) => c.header), 'check'];
  const lines = rows.map((row) => [
    rateName(row.rate),
    row.policy,
    row.consumer,
    ...COLUMNS.map((c) => medianOf(row, c.value).toFixed(c.digits)),
    row.trials.every((t) => t.difference === 0) ? 'exact' : `off ${row.trials.map((t) => t.difference).join('/')}`,
  ]);
  printColumns(header, lines);
  console.log();
  for (const line of targets(rows, settings)) console.log(line);
}

/** The targets, each with its verdict, from kernscope's rows (against C's where it is a ratio). */
function targets(rows: Row[], settings: Settings): string[] {
  const find = (rate: number, consumer: Consumer, policy: PolicyName = 'default'): Row | undefined =>
    rows.find((r) => r.rate === rate && r.consumer === consumer && r.policy === policy);
  const verdict = (met: boolean): string => (met ? 'met' : 'NOT met');
  const lines: string[] = [];

  const ratios = (title: string, limit: number, aim: number | undefined, value: (r: RunResult) => number): void => {
    lines.push(`${title}:`);
    for (const rate of settings.rates.filter((r) => r !== IDLE)) {
      const ks = find(rate, 'kernscope');
      const c = find(rate, 'c-libbpf');
      if (!ks || !c) continue;
      const ratio = medianOf(ks, value) / medianOf(c, value);
      const aimText = aim === undefined ? '' : `, aim <= ${aim}: ${verdict(ratio <= aim)}`;
      lines.push(`  at ${rateText(rate)}: ${ratio.toFixed(2)} (<= ${limit}: ${verdict(ratio <= limit)}${aimText})`);
    }
  };
  ratios('drain ns/record, kernscope / C', 3, 2, (r) => r.drainNsPerRecord);
  ratios('CPU per 100k records/s, kernscope / C', 1.5, undefined, (r) => r.cpuPercentPer100k);
  const [idleKs, idleC] = [find(IDLE, 'kernscope'), find(IDLE, 'c-libbpf')];
  if (idleKs && idleC) {
    const [ks, c] = [medianOf(idleKs, (r) => r.cpuPercent), medianOf(idleC, (r) => r.cpuPercent)];
    lines.push(
      `  fixed cost (idle: timer and wakeups, nothing to drain): kernscope ${ks.toFixed(2)}%, ` +
        `C ${c.toFixed(2)}% of a core (${(ks / c).toFixed(2)}x)`,
    );
  }

  const million = find(1e6, 'kernscope');
  if (!million) {
    lines.push('0 records lost at 1M records/s for 60 s: not measured (needs --rates 1000000 --seconds 60)');
  } else {
    const lost = million.trials.map((t) => t.lost);
    const achieved = Math.min(...million.trials.map((t) => t.rate));
    const text =
      `lost ${lost.join('/')} in ${lost.length} run(s) of ${settings.seconds} s, ` +
      `producer at >= ${achieved.toFixed(0)}/s`;
    const none = lost.every((l) => l === 0);
    const status = !none
      ? 'NOT met'
      : settings.seconds < 60 || achieved < 0.99e6
        ? 'not measured (needs 60 s runs at a full 1M/s)'
        : 'met';
    lines.push(`0 records lost at 1M records/s for 60 s: ${text}: ${status}`);
  }

  const loaded = rows.filter(
    (r) => r.consumer === 'kernscope' && r.policy === 'default' && (r.rate === 0 || r.rate >= 1e5),
  );
  if (loaded.length) {
    const worst = loaded.reduce((a, b) => (medianOf(a, (r) => r.p99Ms) >= medianOf(b, (r) => r.p99Ms) ? a : b));
    const p99 = medianOf(worst, (r) => r.p99Ms);
    lines.push(
      `p99 kernel->aggregated <= 100 ms under load (100k/s and up): worst ${p99.toFixed(3)} ms ` +
        `at ${rateText(worst.rate)}: ${verdict(p99 <= 100)}`,
    );
  } else {
    lines.push('p99 kernel->aggregated <= 100 ms under load: not measured (no rate >= 100k/s)');
  }

  const light = find(1e4, 'kernscope');
  if (light) {
    const p50 = medianOf(light, (r) => r.p50Ms);
    lines.push(
      `p50 kernel->aggregated <= 1 ms at 10k records/s: ${p50.toFixed(3)} ms: ${verdict(p50 <= 1)} ` +
        `(aim single-digit us: ${verdict(p50 < 0.01)})`,
    );
  } else {
    lines.push('p50 kernel->aggregated <= 1 ms at 10k records/s: not measured (needs --rates 10000)');
  }
  const [eagerKs, eagerC] = [find(1e4, 'kernscope', 'eager'), find(1e4, 'c-libbpf', 'eager')];
  if (eagerKs && eagerC) {
    const p50 = medianOf(eagerKs, (r) => r.p50Ms);
    const cpu = (row: Row): string => `${medianOf(row, (r) => r.cpuPercent).toFixed(2)}%`;
    lines.push(
      `  with a wakeup per record (eager): ${p50.toFixed(3)} ms: ${verdict(p50 <= 1)} ` +
        `(aim single-digit us: ${verdict(p50 < 0.01)}), at ${cpu(eagerKs)} of a core (C: ` +
        `${medianOf(eagerC, (r) => r.p50Ms).toFixed(3)} ms at ${cpu(eagerC)})`,
    );
  }
  return lines;
}

async function main(): Promise<number> {
  const settings = parseArgs(process.argv.slice(2));
  for (const file of [C_CONSUMER, STREAM_GEN, LOADGEN_OBJECT]) {
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: run make bpf and make -C bench`);
  }
  const info = machine();
  const rows: Row[] = [
    ...settings.rates.map((rate) => ({ rate, policy: 'default' as const })),
    ...settings.eagerRates.map((rate) => ({ rate, policy: 'eager' as const })),
  ].flatMap((run) => CONSUMERS.map((consumer) => ({ ...run, consumer, trials: [] })));
  // Trials interleaved, so drift on a shared machine hits every configuration alike.
  for (let trial = 0; trial < settings.trials; trial++) {
    for (const row of rows) {
      process.stderr.write(
        `trial ${trial + 1}/${settings.trials}: ${rateText(row.rate)} ${row.policy} ${row.consumer}\n`,
      );
      row.trials.push(await runOnce(row, settings));
    }
  }
  const problems = rows.flatMap((row) =>
    row.trials
      .flatMap((t) => [
        ...(t.difference === 0
          ? []
          : [
              `drained ${t.drained} + lost ${t.lost} != produced ${t.produced} (${t.difference > 0 ? '+' : ''}${t.difference})`,
            ]),
        ...t.problems,
      ])
      .map((p) => `${rateText(row.rate)} ${row.policy} ${row.consumer}: ${p}`),
  );
  if (settings.json) {
    const medians = rows.map((row) => ({
      rate: row.rate,
      policy: row.policy,
      consumer: row.consumer,
      median: Object.fromEntries(COLUMNS.map((c) => [c.header, medianOf(row, c.value)])),
      trials: row.trials,
    }));
    console.log(
      JSON.stringify(
        { machine: info, settings, policies: POLICIES, rows: medians, targets: targets(rows, settings), problems },
        null,
        2,
      ),
    );
  } else {
    printTable(info, settings, rows);
  }
  for (const problem of problems) console.error(`counts do not verify: ${problem}`);
  return problems.length ? 1 : 0;
}

if (process.argv[2] === '--child') {
  child(POLICIES[process.argv[3] as PolicyName]).catch((error: unknown) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exitCode = 1;
  });
} else {
  main().then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
