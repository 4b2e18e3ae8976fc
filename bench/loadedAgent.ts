// The agent path under generated load, in a child process of its own (the
// scrape and memory benchmarks): the generator (bench/generator.ts) drives
// `rate` exec_records per second over `series` comms into a 4 MiB ring, and
// the child consumes them as the agent does: the agent's defaults (ring,
// wakeup, 20 ms timer, series TTL, attribution on), RingDrain into the exec
// probe's ProbeAggregator with the comm label on, the agent's families (its
// own metrics and the probe's counter) served at /metrics by the real
// HttpServer and PrometheusExporter. The parent scrapes and reads
// /proc/PID/status; the child measures its event-loop lag and garbage-collector
// pauses and checks that every record produced was drained or counted lost.
//
// Protocol: `node dist/bench/loadedAgent.js SPEC_JSON` prints one JSON line
// {port, startNs} once the producer runs, and one LoadResult line when the
// producer has finished and the ring is drained; it serves /metrics until its
// stdin ends, so a scrape still in flight then is answered.
import type { ChildProcessByStdio } from 'node:child_process';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { NodeGCPerformanceDetail, PerformanceEntry } from 'node:perf_hooks';
import { PerformanceObserver, constants as perfConstants, monitorEventLoopDelay } from 'node:perf_hooks';
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';

import { Agent } from '../src/agent/Agent';
import { preferSmallHeapAfterStartUp } from '../src/agent/heapPolicy';
import { lostEventsOf } from '../src/load/lostEvents';
import { ProbeAggregator } from '../src/aggregate/ProbeAggregator';
import { DEFAULT_OPTIONS } from '../src/config/AgentOptions';
import { ResolvedRecord } from '../src/decode/ResolvedRecord';
import { RingDrain } from '../src/drain/RingDrain';
import { Attribution } from '../src/enrich/Attribution';
import { CgroupPaths } from '../src/enrich/CgroupPaths';
import { HttpServer } from '../src/export/HttpServer';
import { OtlpExporter } from '../src/export/OtlpExporter';
import { PrometheusExporter } from '../src/export/PrometheusExporter';
import { cgroup2Mount } from '../src/kernel/cgroup';
import { u32, u64 } from '../src/load/ProbeLoader';
import { Logger } from '../src/log';
import { addon } from '../src/native/addon';
import { execProbe } from '../src/probes/exec';
import { LOADGEN_OBJECT, loadgenComm, spawnLoop } from './generator';

const PROGRAM = 'loadgen_sys_enter';
/** Records per getppid() call: 1M records/s is 10k paced calls/s. */
export const LOADGEN_BATCH = 100;
/** perf_hooks resolution; the histogram holds whole timer intervals, so this is subtracted. */
const LAG_RESOLUTION_MS = 10;
const LOSS_SAMPLE_MS = 10;
/** The rest of the OTLP settings: the agent's defaults (no OTEL_* variables in a benchmark). */
const otlpDefaults = {
  endpointFrom: 'bench',
  timeoutMs: 10000,
  requestTimeoutMs: 10000,
  temporality: 'cumulative' as const,
  histograms: 'explicit' as const,
};

export interface LoadSpec {
  /** Distinct comms: the series of kernscope_process_execs_total. */
  series: number;
  /** Records per second asked of the generator; 0: as many as it makes. */
  rate: number;
  /** How long the producer runs. */
  seconds: number;
  /** Sample the lost count every LOSS_SAMPLE_MS, so losses can be placed in time. */
  lossSamples: boolean;
  /** Export the agent's families over OTLP/gRPC to `endpoint` every `intervalMs`, and once more at the end. */
  otlp?: { endpoint: string; intervalMs: number };
}

export type GcKind = 'full' | 'young' | 'incremental';

export interface GcPauses {
  count: number;
  longestMs: number;
}

const GC_KINDS = new Map<number, GcKind>([
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR, 'full'],
  [perfConstants.NODE_PERFORMANCE_GC_MINOR, 'young'],
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
]);

/** Collects the gc performance entries (one per pause) until stopped. */
function watchGcPauses(): { stop: () => Record<GcKind, GcPauses> } {
  const pauses: Record<GcKind, GcPauses> = {
    full: { count: 0, longestMs: 0 },
    young: { count: 0, longestMs: 0 },
    incremental: { count: 0, longestMs: 0 },
  };
  const record = (entries: PerformanceEntry[]): void => {
    for (const entry of entries) {
      const kind = GC_KINDS.get((entry as PerformanceEntry & { detail: NodeGCPerformanceDetail }).detail.kind);
      if (kind === undefined) continue;
      pauses[kind].count++;
      pauses[kind].longestMs = Math.max(pauses[kind].longestMs, entry.duration);
    }
  };
  const observer = new PerformanceObserver((list) => record(list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop: () => {
      record(observer.takeRecords());
      observer.disconnect();
      return pauses;
    },
  };
}

/** `full 7 (longest 20.7 ms), young 138 (longest 7.8 ms), ...` */
export function gcPausesText(pauses: Record<GcKind, GcPauses>): string {
  return Object.entries(pauses)
    .map(([kind, p]) => `${kind} ${p.count} (longest ${p.longestMs.toFixed(1)} ms)`)
    .join(', ');
}

export interface LoadResult {
  /** getppid() calls syscall_loop made, and over how long (its own clock). */
  calls: number;
  producerSeconds: number;
  produced: number;
  recordsPerS: number;
  drained: number;
  lost: number;
  /** [ms since startNs, lost so far]: the first at the producer's start, the last after the final drain. */
  lossSamples: [number, number][];
  /** Event-loop lag over the producer's run: timer delay beyond its interval. */
  lagMs: { p50: number; p99: number; max: number };
  /** The garbage collector's pauses of the main thread over the producer's run, by kind. */
  gcPauses: Record<GcKind, GcPauses>;
  maxSeries: number;
  /** What does not add up; empty when every record is accounted for. */
  problems: string[];
}

export interface Scrape {
  /** Request sent and last byte received, ms since the load's startNs. */
  startMs: number;
  endMs: number;
  bytes: number;
  /** The body as UTF-8 (the text exposition); `raw` as received (the protobuf one). */
  body: string;
  raw: Buffer;
  contentType: string;
}

/** The child process, seen from the benchmark. */
export class LoadedAgent {
  private constructor(
    private readonly child: ChildProcessByStdio<Writable, Readable, Readable>,
    readonly port: number,
    readonly startNs: bigint,
    private readonly result: Promise<LoadResult>,
    private readonly exited: Promise<string>,
    /** What the child wrote to stderr so far, by line (it logs at level warn: warnings, errors, crashes). */
    readonly stderrLines: string[],
  ) {}

  /** Spawns the child; resolves once its producer runs and /metrics is served. */
  static async start(spec: LoadSpec): Promise<LoadedAgent> {
    const child = spawn(process.execPath, [__filename, JSON.stringify(spec)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stderrLines: string[] = [];
    // Passed on as it comes, and kept to be counted.
    readline.createInterface({ input: child.stderr }).on('line', (line) => {
      stderrLines.push(line);
      process.stderr.write(`${line}\n`);
    });
    const exited = new Promise<string>((resolve) =>
      child.once('exit', (code, signal) => resolve(`loaded agent exited (${code ?? signal})`)),
    );
    const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const next = async (): Promise<string> => {
      const line = await lines.next();
      if (line.done) throw new Error(await exited);
      return line.value;
    };
    const ready = JSON.parse(await next()) as { port: number; startNs: string };
    const result = next().then((line) => JSON.parse(line) as LoadResult);
    result.catch(() => undefined); // finish() awaits it; this only keeps an early failure from going unhandled
    return new LoadedAgent(child, ready.port, BigInt(ready.startNs), result, exited, stderrLines);
  }

  /** Waits for the producer to finish and the child's count, then lets the child exit. */
  async finish(): Promise<LoadResult> {
    const result = await this.result;
    this.child.stdin.end();
    await this.exited;
    return result;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** ms since the producer started. */
  elapsedMs(): number {
    return Number(process.hrtime.bigint() - this.startNs) / 1e6;
  }

  /** One GET /metrics with a fresh connection (and this Accept header, if any), timed from request to last byte. */
  async scrape(accept?: string): Promise<Scrape> {
    const startMs = this.elapsedMs();
    const { status, body, contentType } = await httpGet(this.port, '/metrics', accept ? { accept } : {});
    const endMs = this.elapsedMs();
    if (status !== 200) throw new Error(`/metrics answered ${status}`);
    return { startMs, endMs, bytes: body.length, body: body.toString('utf8'), raw: body, contentType };
  }

  /** Waits until `ms` since the producer started. */
  async until(ms: number): Promise<void> {
    const wait = ms - this.elapsedMs();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** A plain GET on a fresh connection to 127.0.0.1, as a scraper makes it; resolves at the last byte. */
export function httpGet(
  port: number,
  path: string,
  headers: http.OutgoingHttpHeaders = {},
): Promise<{ status: number; body: Buffer; contentType: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks),
            contentType: res.headers['content-type'] ?? '',
          }),
        );
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** Lines of the counter's series in a text /metrics body. */
export function execSeriesIn(body: string): number {
  return body.match(/^kernscope_process_execs_total\{/gm)?.length ?? 0;
}

/** A protobuf varint at `at`: its value and the offset after it (throws past the end). */
function varint(buf: Buffer, at: number): [number, number] {
  let value = 0;
  for (let shift = 0; ; shift += 7) {
    if (at >= buf.length) throw new Error('varint runs past the end');
    const byte = buf[at++];
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, at];
  }
}

/**
 * Metric entries per MetricFamily name in a protobuf /metrics body (length-delimited MetricFamily messages
 * of prometheus/client_model's metrics.proto: name is field 1, each Metric field 4), by a walk of the wire
 * format; throws if the body is not such a sequence.
 */
export function metricsPerFamily(buf: Buffer): Map<string, number> {
  const families = new Map<string, number>();
  for (let at = 0; at < buf.length;) {
    const [length, start] = varint(buf, at);
    const end = start + length;
    if (end > buf.length) throw new Error('a MetricFamily runs past the end');
    let name = '';
    let metrics = 0;
    for (let p = start; p < end;) {
      const [tag, afterTag] = varint(buf, p);
      const field = Math.floor(tag / 8);
      const wireType = tag & 7;
      if (wireType === 0) p = varint(buf, afterTag)[1];
      else if (wireType === 1) p = afterTag + 8;
      else if (wireType === 5) p = afterTag + 4;
      else if (wireType === 2) {
        const [size, from] = varint(buf, afterTag);
        p = from + size;
        if (field === 1) name = buf.toString('utf8', from, p);
        else if (field === 4) metrics++;
      } else throw new Error(`wire type ${wireType} in a MetricFamily`);
      if (p > end) throw new Error('a field runs past its MetricFamily');
    }
    families.set(name, (families.get(name) ?? 0) + metrics);
    at = end;
  }
  return families;
}

/** Metrics of the counter in a protobuf /metrics body. */
export function execSeriesInProtobuf(buf: Buffer): number {
  return metricsPerFamily(buf).get('kernscope_process_execs_total') ?? 0;
}

/** Every record once: drained or lost, counted under the comm loadgen gave it. */
function countProblems(
  aggregator: ProbeAggregator,
  series: number,
  counts: { produced: number; drained: number; lost: number },
): string[] {
  const { produced, drained, lost } = counts;
  const problems: string[] = [];
  if (drained + lost !== produced) problems.push(`drained ${drained} + lost ${lost} != produced ${produced}`);
  if (aggregator.invalid !== 0) problems.push(`${aggregator.invalid} records failed the header check`);
  const counter = aggregator.counters[0];
  if (counter.policy.overflowCount !== 0)
    problems.push(`${counter.policy.overflowCount} records overflowed the series cap`);
  const byComm = new Map<string, number>();
  for (const { labels, value } of counter.collect()) byComm.set(labels.comm, (byComm.get(labels.comm) ?? 0) + value);
  const sum = [...byComm.values()].reduce((a, b) => a + b, 0);
  if (sum !== drained) problems.push(`the counter sums to ${sum}, ${drained} records were drained`);
  // Without loss, record i of the stream counts under comm i % series.
  if (lost === 0) {
    const expected = Math.min(series, produced);
    if (byComm.size !== expected) problems.push(`${byComm.size} comms counted, expected ${expected}`);
    for (let i = 0; i < expected; i++) {
      const comm = loadgenComm(i, series);
      const want = Math.floor(produced / series) + (i < produced % series ? 1 : 0);
      if (byComm.get(comm) !== want) {
        problems.push(`${comm} counted ${byComm.get(comm)}, expected ${want}`);
        break;
      }
    }
  }
  return problems;
}

/** The child: load, serve, release the producer, and account for every record. */
async function child(spec: LoadSpec): Promise<void> {
  preferSmallHeapAfterStartUp();
  // rate 0: syscall_loop unpaced, the highest rate it reaches.
  const callRate = spec.rate === 0 ? 0 : Math.max(1, Math.round(spec.rate / LOADGEN_BATCH));
  const loop = await spawnLoop(callRate, spec.seconds);
  const exited = new Promise<number | null>((resolve) => loop.child.once('exit', (code) => resolve(code)));
  const options = {
    ...DEFAULT_OPTIONS,
    maxSeriesPerMetric: Math.max(DEFAULT_OPTIONS.maxSeriesPerMetric, 2 * spec.series),
  };
  const logger = new Logger('warn');
  const agent = new Agent(options, logger);
  let otlp: OtlpExporter | undefined;
  const object = new addon.BpfObject(LOADGEN_OBJECT, 'loadgen');
  let server: HttpServer | undefined;
  try {
    object.setAutoload('loadgen', false);
    object.setAutoload(PROGRAM, true);
    object.setMaxEntries('events', options.ringBytes);
    object.setConstant('wakeup_bytes', u64(options.wakeupBytes));
    object.setConstant('targ_tgid', u32(loop.pid));
    object.setConstant('targ_syscall', u64(loop.syscall));
    object.setConstant('loadgen_comms', u32(spec.series));
    object.setConstant('loadgen_batch', u32(LOADGEN_BATCH));
    object.load();
    const record = ResolvedRecord.resolve(object, 'loadgen', execProbe.record);
    const mount = cgroup2Mount();
    const attribution = mount === undefined ? undefined : new Attribution(new CgroupPaths(mount));
    const aggregator = new ProbeAggregator(execProbe, record, {
      limits: { maxSeries: options.maxSeriesPerMetric, ttlMs: options.seriesTtlMs },
      attribution: attribution && ((id) => attribution.labels(id)),
    });
    const drain = new RingDrain(object, aggregator, { intervalMs: options.drainIntervalMs });
    // As Agent.start would have it: the probe, its drain and its families, beside the agent's own.
    agent.running.push({
      loaded: {
        definition: execProbe,
        object,
        chosen: [{ point: 'sys_enter', variant: { kind: 'tp_btf', program: PROGRAM } }],
        rejected: [],
      },
      records: { aggregator, drain },
      families: aggregator.counters,
    });
    server = new HttpServer(new PrometheusExporter(agent.families()), () => true); // /readyz is not measured
    if (spec.otlp) {
      otlp = new OtlpExporter({ ...otlpDefaults, ...spec.otlp }, logger);
      otlp.start(agent.families(), 'loaded-agent');
    }
    const { port } = await server.start('127.0.0.1:0');
    object.attach(PROGRAM, 'tp_btf');
    drain.start();

    const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
    lag.enable();
    const gcWatch = watchGcPauses();
    const startNs = process.hrtime.bigint();
    const sinceStart = (): number => Number(process.hrtime.bigint() - startNs) / 1e6;
    const lossSamples: [number, number][] = [];
    const sampleLoss = (): number => lossSamples.push([sinceStart(), lostEventsOf(object)]);
    const sampler = spec.lossSamples ? setInterval(sampleLoss, LOSS_SAMPLE_MS) : undefined;
    if (spec.lossSamples) sampleLoss();
    loop.child.stdin.write('go\n');
    console.log(JSON.stringify({ port, startNs: String(startNs) }));

    const report = await loop.lines.next();
    const code = await exited;
    if (code !== 0 || report.done) throw new Error(`syscall_loop exited ${code}`);
    lag.disable();
    const gcPauses = gcWatch.stop();
    clearInterval(sampler);
    drain.drain(); // the producer is done: what it wrote is in the ring or counted lost
    await otlp?.forceFlush(); // the receiver's last cumulative count is the final one
    const lost = lostEventsOf(object);
    if (spec.lossSamples) sampleLoss();
    const { calls, seconds } = JSON.parse(report.value) as { calls: number; seconds: number };
    const produced = calls * LOADGEN_BATCH;
    const drained = drain.records;
    const lagMs = (ns: number): number => Math.max(0, ns / 1e6 - LAG_RESOLUTION_MS);
    const result: LoadResult = {
      calls,
      producerSeconds: seconds,
      produced,
      recordsPerS: produced / seconds,
      drained,
      lost,
      lossSamples,
      lagMs: { p50: lagMs(lag.percentile(50)), p99: lagMs(lag.percentile(99)), max: lagMs(lag.max) },
      gcPauses,
      maxSeries: options.maxSeriesPerMetric,
      problems: countProblems(aggregator, spec.series, { produced, drained, lost }),
    };
    console.log(JSON.stringify(result));
    process.stdin.resume();
    await new Promise((resolve) => process.stdin.once('end', resolve));
  } finally {
    if (loop.child.exitCode === null) loop.child.kill();
    await server?.shutdown();
    await otlp?.shutdown(5000);
    agent.stop();
    if (!object.closed) object.close(); // load or attach failed before the agent owned it
  }
}

if (require.main === module) {
  child(JSON.parse(process.argv[2] ?? '') as LoadSpec).catch((error: unknown) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exitCode = 1;
  });
}
