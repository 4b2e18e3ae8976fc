// Side-by-side drain benchmark: the pure C libbpf consumer (bench/c_consumer.c)
// against kernscope's own drain -> decode -> aggregate path (RingDrain,
// RecordLayout, ProbeAggregator), on the same records from bpf/loadgen.bpf.c.
// Both fill the ring with BPF_PROG_TEST_RUN, then time only the drain. Every
// trial of every consumer runs in its own process, so one consumer's JIT
// feedback (e.g. a second sink type at RingDrain's call site) cannot slow another.
//
// usage: node dist/bench/drain.js [--json] [--rows 8192,65536] [--records N] [--trials N]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { lostEventsOf } from '../src/load/lostEvents';
import { ProbeAggregator } from '../src/aggregate/ProbeAggregator';
import { DEFAULT_OPTIONS } from '../src/config/AgentOptions';
import { RecordLayout } from '../src/decode/RecordLayout';
import { ResolvedRecord } from '../src/decode/ResolvedRecord';
import type { RecordSink } from '../src/drain/RecordLoop';
import { RingDrain } from '../src/drain/RingDrain';
import type { NativeBpfObject } from '../src/native/addon';
import { PACKAGE_ROOT, addon } from '../src/native/addon';
import { execProbe } from '../src/probes/exec';
import { LOADGEN_OBJECT } from './generator';
import { machine } from './machine';
import { positiveInt, printColumns } from './report';

const C_CONSUMER = path.join(PACKAGE_ROOT, 'dist', 'bench', 'c_consumer');
const COMMS = 16; // loadgen cycles through loadgen-a .. loadgen-p
const RING_HEADER = 8; // kernel ring sample header (BPF_RINGBUF_HDR_SZ)
const GATE_RATIO = 4;
const AIM_RATIO = 2;
// Enough onRecord calls for TurboFan to optimise the whole path before timing.
const WARMUP_RECORDS = 1 << 18;
const USAGE = 'usage: node dist/bench/drain.js [--json] [--rows 8192,65536] [--records N] [--trials N]';

interface Settings {
  json: boolean;
  /** Records per round, one table row group each. */
  rows: number[];
  /** Records per trial (rounded up to whole rounds). */
  records: number;
  trials: number;
}

interface Measurement {
  consumer: string;
  records: number;
  nsPerRecord: number;
  /**
   * Batches: for C, ring_buffer__consume() calls (including the one ending each
   * drain, which finds the ring empty); for kernscope, walks that found records
   * (kernscope makes no native call to drain).
   */
  calls: number;
  recordsPerCall: number;
  lost: number;
}

interface Row {
  recordsPerRound: number;
  rounds: number;
  ringBytes: number;
  /** Median trial of each consumer: c-libbpf, kernscope, kernscope-noop-sink. */
  results: Measurement[];
  /** kernscope ns/record over c-libbpf ns/record. */
  ratio: number;
}

type Mode = 'aggregate' | 'noop';

function parseArgs(argv: string[]): Settings {
  const settings: Settings = { json: false, rows: [8192, 65536], records: 1 << 22, trials: 5 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') settings.json = true;
    else if (arg === '--rows') settings.rows = (argv[++i] ?? '').split(',').map((r) => positiveInt('--rows', r, USAGE));
    else if (arg === '--records') settings.records = positiveInt('--records', argv[++i], USAGE);
    else if (arg === '--trials') settings.trials = positiveInt('--trials', argv[++i], USAGE);
    else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  return settings;
}

function median(values: Measurement[]): Measurement {
  const sorted = [...values].sort((a, b) => a.nsPerRecord - b.nsPerRecord);
  return sorted[(sorted.length - 1) >> 1];
}

function nextPowerOfTwo(n: number): number {
  let p = 4096;
  while (p < n) p *= 2;
  return p;
}

/** One run of the C baseline; it checks its own counts and exits non-zero when they are off. */
function runC(perRound: number, rounds: number, ringBytes: number): Measurement {
  const args = [LOADGEN_OBJECT, String(perRound), String(rounds), String(ringBytes)];
  const out = JSON.parse(execFileSync(C_CONSUMER, args, { encoding: 'utf8' })) as {
    records: number;
    ns_per_record: number;
    lost: number;
    distinct_comms: number;
    calls: number;
  };
  if (out.distinct_comms !== COMMS || out.records + out.lost !== perRound * rounds) {
    throw new Error(`c_consumer counts do not verify: ${JSON.stringify(out)}`);
  }
  return {
    consumer: 'c-libbpf',
    records: out.records,
    nsPerRecord: out.ns_per_record,
    calls: out.calls,
    recordsPerCall: out.records / out.calls,
    lost: out.lost,
  };
}

/**
 * kernscope's real path over one loaded loadgen object, kept across trials so
 * the JIT stays hot. Mode 'noop' hands records to an empty sink instead of the
 * aggregator: the difference between the two is the per-record JS decode and
 * aggregation cost.
 */
class KernscopeBench {
  private readonly object: NativeBpfObject;
  private readonly aggregator: ProbeAggregator | undefined;
  private readonly drain: RingDrain;
  /** Records the generator was asked for, warm-up included. */
  private produced = 0;

  constructor(
    private readonly perRound: number,
    ringBytes: number,
    private readonly mode: Mode,
  ) {
    this.object = new addon.BpfObject(LOADGEN_OBJECT, 'loadgen');
    try {
      this.object.setMaxEntries('events', ringBytes);
      // All ones: the producer never wakes anyone; the loop below drains.
      this.object.setConstant('wakeup_bytes', new Uint8Array(8).fill(0xff));
      this.object.load();
      // The noop sink contributes no per-record code: what is left is the walk itself.
      let sink: RecordSink = { recordCode: () => ({ prelude: '', body: '', state: null }) };
      if (mode === 'aggregate') {
        const record = ResolvedRecord.resolve(this.object, 'loadgen', execProbe.record);
        this.aggregator = new ProbeAggregator(execProbe, record, {
          limits: { maxSeries: DEFAULT_OPTIONS.maxSeriesPerMetric, ttlMs: 0 },
        });
        sink = this.aggregator;
      }
      // Constructed but not started: no poll, no timer.
      this.drain = new RingDrain(this.object, sink, {
        intervalMs: DEFAULT_OPTIONS.drainIntervalMs,
      });
    } catch (error) {
      this.object.close();
      throw error;
    }
  }

  warmUp(): void {
    this.run(Math.ceil(WARMUP_RECORDS / this.perRound));
  }

  run(rounds: number): Measurement {
    const before = { records: this.drain.records, batches: this.drain.batches };
    const lostBefore = lostEventsOf(this.object);
    const args = [this.perRound];
    let ns = 0n;
    for (let round = 0; round < rounds; round++) {
      const retval = this.object.testRun('loadgen', args);
      if (retval !== 0) throw new Error(`loadgen returned ${retval}`);
      this.produced += this.perRound;
      const t0 = process.hrtime.bigint();
      this.drain.drain();
      ns += process.hrtime.bigint() - t0;
    }
    const records = this.drain.records - before.records;
    const calls = this.drain.batches - before.batches;
    return {
      consumer: this.mode === 'aggregate' ? 'kernscope' : 'kernscope-noop-sink',
      records,
      nsPerRecord: records ? Number(ns) / records : 0,
      calls,
      recordsPerCall: records / calls,
      lost: lostEventsOf(this.object) - lostBefore,
    };
  }

  /** What is wrong with the counts, if anything: every record counted once, under one of 16 comms. */
  verify(): string[] {
    const problems: string[] = [];
    const lost = lostEventsOf(this.object);
    const drained = this.drain.records;
    if (drained + lost !== this.produced)
      problems.push(`drained ${drained} + lost ${lost} != produced ${this.produced}`);
    if (!this.aggregator) return problems;
    if (this.aggregator.invalid !== 0) problems.push(`${this.aggregator.invalid} records failed the header check`);
    const expected = Array.from({ length: COMMS }, (_, i) => `loadgen-${String.fromCharCode(97 + i)}`);
    for (const counter of this.aggregator.counters) {
      const samples = counter.collect();
      const sum = samples.reduce((total, s) => total + s.value, 0);
      const comms = new Set(samples.map((s) => s.labels.comm));
      if (sum !== this.produced - lost)
        problems.push(`${counter.name} sums to ${sum}, expected ${this.produced - lost}`);
      if (counter.policy.overflowCount !== 0)
        problems.push(`${counter.name} overflowed ${counter.policy.overflowCount} records`);
      if (comms.size !== COMMS || !expected.every((comm) => comms.has(comm))) {
        problems.push(`${counter.name} has comms [${[...comms].join(', ')}], expected loadgen-a..loadgen-p`);
      }
      // Without loss, loadgen's round-robin makes every comm's count exact.
      if (lost === 0 && this.perRound % COMMS === 0) {
        const each = this.produced / COMMS;
        const off = samples.filter((s) => s.value !== each).map((s) => `${s.labels.comm}=${s.value}`);
        if (off.length) problems.push(`${counter.name}: expected ${each} per comm, got ${off.join(' ')}`);
      }
    }
    return problems;
  }

  close(): void {
    this.drain.stop();
    this.object.close();
  }
}

/** One trial of kernscope in a child process (see child()); its count problems are added to `problems`. */
function runKernscope(
  mode: Mode,
  perRound: number,
  rounds: number,
  ringBytes: number,
  problems: string[],
): Measurement {
  const args = [__filename, '--child', mode, String(perRound), String(rounds), String(ringBytes)];
  const out = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' })) as ChildResult;
  problems.push(...out.problems.map((p) => `${out.measurement.consumer}, ${perRound} records/round: ${p}`));
  return out.measurement;
}

function benchRow(perRound: number, settings: Settings, slotBytes: number, problems: string[]): Row {
  const rounds = Math.ceil(settings.records / perRound);
  const ringBytes = nextPowerOfTwo(perRound * slotBytes);
  const trials: Measurement[][] = [[], [], []];
  // Interleaved, so drift on a shared VM hits every consumer alike.
  for (let trial = 0; trial < settings.trials; trial++) {
    trials[0].push(runC(perRound, rounds, ringBytes));
    trials[1].push(runKernscope('aggregate', perRound, rounds, ringBytes, problems));
    trials[2].push(runKernscope('noop', perRound, rounds, ringBytes, problems));
  }
  const results = trials.map(median);
  return {
    recordsPerRound: perRound,
    rounds,
    ringBytes,
    results,
    ratio: results[1].nsPerRecord / results[0].nsPerRecord,
  };
}

function printTable(info: Record<string, string | number>, settings: Settings, rows: Row[]): void {
  console.log(`cpu: ${info.cpu} (${info.cores} cores)  kernel: ${info.kernel}  libbpf: ${info.libbpf}`);
  console.log(`node: ${info.node}  clang: ${info.clang}`);
  console.log(
    `workload: loadgen exec_record, ${settings.records} records per trial, median of ${settings.trials} trials; ` +
      `kernscope reads the ring in place (zero-copy)\n`,
  );
  const header = ['records/round', 'ring', 'consumer', 'records', 'ns/record', 'records/batch', 'lost'];
  const lines = rows.flatMap((row) =>
    row.results.map((m) => [
      String(row.recordsPerRound),
      `${row.ringBytes / (1 << 20)} MiB`,
      m.consumer,
      String(m.records),
      m.nsPerRecord.toFixed(2),
      m.recordsPerCall.toFixed(1),
      String(m.lost),
    ]),
  );
  printColumns(header, lines);
  console.log();
  for (const row of rows) {
    const verdict =
      row.ratio <= AIM_RATIO ? 'meets aim' : row.ratio <= GATE_RATIO ? 'passes gate, misses aim' : 'FAILS gate';
    console.log(
      `ratio kernscope/C at ${row.recordsPerRound} records/round: ${row.ratio.toFixed(2)} ` +
        `(gate <= ${GATE_RATIO}, aim <= ${AIM_RATIO}: ${verdict})`,
    );
  }
}

interface ChildResult {
  measurement: Measurement;
  problems: string[];
}

/** `--child MODE RECORDS_PER_ROUND ROUNDS RING_BYTES`: warm up, run one trial, verify, print one JSON line. */
function child(argv: string[]): number {
  const [mode, perRound, rounds, ringBytes] = argv;
  if (mode !== 'aggregate' && mode !== 'noop') throw new Error(`--child: unknown mode ${mode}`);
  const bench = new KernscopeBench(
    positiveInt('--child', perRound, USAGE),
    positiveInt('--child', ringBytes, USAGE),
    mode,
  );
  try {
    bench.warmUp();
    const measurement = bench.run(positiveInt('--child', rounds, USAGE));
    const result: ChildResult = { measurement, problems: bench.verify() };
    console.log(JSON.stringify(result));
  } finally {
    bench.close();
  }
  return 0;
}

function main(): number {
  if (process.argv[2] === '--child') return child(process.argv.slice(3));
  const settings = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(C_CONSUMER)) throw new Error(`${C_CONSUMER} is missing: run make -C bench`);
  const info = machine();
  // Ring slot as the kernel lays samples out: header + record, 8-aligned; record size from BTF.
  const probe = new addon.BpfObject(LOADGEN_OBJECT, 'loadgen');
  const recordBytes = RecordLayout.fromObject(probe, execProbe.record.struct).size;
  probe.close();
  const slotBytes = (RING_HEADER + recordBytes + 7) & ~7;

  const problems: string[] = [];
  const rows = settings.rows.map((perRound) => benchRow(perRound, settings, slotBytes, problems));

  if (settings.json) {
    const gate = { ratio: GATE_RATIO, aim: AIM_RATIO };
    console.log(JSON.stringify({ machine: info, settings, gate, rows, problems }, null, 2));
  } else {
    printTable(info, settings, rows);
  }
  for (const problem of problems) console.error(`counts do not verify: ${problem}`);
  return problems.length ? 1 : 0;
}

try {
  process.exitCode = main();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
