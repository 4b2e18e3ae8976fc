// Scrape benchmark (performance record, table 3): how long /metrics takes and
// how big it is at 1k, 10k and 50k series while the agent path ingests 1M
// records/s, how far the event loop lags meanwhile, and how many records the
// ring loses, overall and while a scrape is in flight, in both expositions:
// text (no Accept header, as before) and protobuf (Prometheus 2.42's Accept
// with --enable-feature=native-histograms), rows alternating between them.
//
// Each series count is one run of bench/loadedAgent.ts (a child process: the
// agent's drain, aggregation and /metrics over a real tracepoint's records;
// the producer runs in the kernel on its own, so a busy event loop costs
// records, as it would in the agent). This process scrapes it every
// --interval-ms with a plain HTTP client after a 1 s warm-up; the child
// samples the drops count every 10 ms, and a loss counts as during a scrape
// when the sample interval it appeared in overlaps a scrape. The check column
// also holds each body's content type and its count of the counter's series
// (text lines, or Metric entries of the protobuf MetricFamily, by decoding).
//
// usage: node dist/bench/scrape.js [--json] [--seconds S] [--series 1000,10000,50000] [--rate N|max] [--interval-ms N]
import fs from 'node:fs';

import { PROTOBUF_CONTENT_TYPE } from '../src/export/protobufExposition';
import type { LoadResult, Scrape } from './loadedAgent';
import { LOADGEN_BATCH, LoadedAgent, execSeriesIn, execSeriesInProtobuf } from './loadedAgent';
import { LOADGEN_OBJECT, SYSCALL_LOOP } from './generator';
import { loadAverage, machine } from './machine';
import { printColumns } from './report';

const USAGE =
  'usage: node dist/bench/scrape.js [--json] [--seconds S] [--series 1000,10000,50000] [--rate N|max] [--interval-ms N]';
/** All series exist well before the first scrape: 1M records/s cycles 50k comms 20 times a second. */
const WARMUP_MS = 1000;
/** The last scrape starts this long before the producer stops. */
const END_MARGIN_MS = 500;
const TARGET_SERIES = 10000;
const TARGET_MS = 100;
/**
 * scrapeAcceptHeaderWithProtobuf of Prometheus 2.42 (--enable-feature=native-histograms), verbatim as in
 * test/export/scrapeAccept.ts: protobuf first.
 */
const PROMETHEUS_242_NATIVE_ACCEPT =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const FORMATS = ['text', 'protobuf'] as const;
type Format = (typeof FORMATS)[number];

interface Settings {
  json: boolean;
  seconds: number;
  series: number[];
  /** Records per second; 0: unpaced. */
  rate: number;
  intervalMs: number;
}

interface Row {
  format: Format;
  series: number;
  maxSeries: number;
  recordsPerS: number;
  scrapes: number;
  /** The first scrape decodes every label set once; the rest are the steady state (none if the first took the run). */
  firstMs: number;
  steadyMs?: { p50: number; p99: number; max: number };
  bodyBytes: number;
  /** Series of kernscope_process_execs_total in the last body. */
  seriesInBody: number;
  lagMs: LoadResult['lagMs'];
  produced: number;
  drained: number;
  lost: number;
  lostInScrapes: number;
  latenciesMs: number[];
  problems: string[];
}

function positive(flag: string, text: string | undefined): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`invalid ${flag}: ${text}; expected a positive integer\n${USAGE}`);
  return value;
}

function parseArgs(argv: string[]): Settings {
  const settings: Settings = { json: false, seconds: 20, series: [1000, 10000, 50000], rate: 1e6, intervalMs: 1000 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') settings.json = true;
    else if (arg === '--seconds') settings.seconds = positive(arg, argv[++i]);
    else if (arg === '--series') settings.series = (argv[++i] ?? '').split(',').map((s) => positive(arg, s));
    else if (arg === '--rate') {
      const text = argv[++i];
      settings.rate = text === 'max' ? 0 : positive(arg, text);
    } else if (arg === '--interval-ms') settings.intervalMs = positive(arg, argv[++i]);
    else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  if (settings.seconds * 1000 < WARMUP_MS + END_MARGIN_MS)
    throw new Error(`--seconds must leave time for a scrape after the ${WARMUP_MS} ms warm-up\n${USAGE}`);
  return settings;
}

/** Nearest-rank percentile of a non-empty list. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

/** Losses in the sample intervals that overlap a scrape (samples and scrapes in ms since the producer started). */
function lostDuring(samples: LoadResult['lossSamples'], scrapes: Pick<Scrape, 'startMs' | 'endMs'>[]): number {
  let lost = 0;
  for (let i = 1; i < samples.length; i++) {
    const [from, before] = samples[i - 1];
    const [to, after] = samples[i];
    if (after > before && scrapes.some((s) => s.startMs <= to && s.endMs >= from)) lost += after - before;
  }
  return lost;
}

/** What is wrong with a scrape's body: its content type, or the counter's series in it; undefined if nothing. */
function bodyProblem(format: Format, series: number, scrape: Scrape): { problem?: string; seriesInBody: number } {
  const { contentType } = scrape;
  const typeOk = format === 'text' ? contentType.startsWith('text/plain') : contentType === PROTOBUF_CONTENT_TYPE;
  if (!typeOk) return { problem: `content type ${contentType}`, seriesInBody: 0 };
  let seriesInBody: number;
  try {
    seriesInBody = format === 'text' ? execSeriesIn(scrape.body) : execSeriesInProtobuf(scrape.raw);
  } catch (error) {
    return {
      problem: `body does not decode: ${error instanceof Error ? error.message : String(error)}`,
      seriesInBody: 0,
    };
  }
  if (seriesInBody !== series)
    return { problem: `${seriesInBody} series of the counter in the body, expected ${series}`, seriesInBody };
  return { seriesInBody };
}

async function run(format: Format, series: number, settings: Settings): Promise<Row> {
  const load = await LoadedAgent.start({ series, rate: settings.rate, seconds: settings.seconds, lossSamples: true });
  const accept = format === 'protobuf' ? PROMETHEUS_242_NATIVE_ACCEPT : undefined;
  const scrapes: Omit<Scrape, 'body' | 'raw'>[] = [];
  const bodyProblems = new Set<string>();
  let seriesInBody = 0;
  try {
    for (let at = WARMUP_MS; at <= settings.seconds * 1000 - END_MARGIN_MS;) {
      await load.until(at);
      const scrape = await load.scrape(accept);
      const timing = {
        startMs: scrape.startMs,
        endMs: scrape.endMs,
        bytes: scrape.bytes,
        contentType: scrape.contentType,
      };
      // Every body after the warm-up holds every series: checked after the timing, outside it.
      const checked = bodyProblem(format, series, scrape);
      seriesInBody = checked.seriesInBody;
      if (checked.problem) bodyProblems.add(checked.problem);
      scrapes.push(timing);
      // As Prometheus' ticker: ticks missed during a long scrape are skipped, not made up.
      at += settings.intervalMs * Math.max(1, Math.ceil((timing.endMs - at) / settings.intervalMs));
    }
  } catch (error) {
    load.kill();
    throw error;
  }
  const result = await load.finish();
  const latencies = scrapes.map((s) => s.endMs - s.startMs);
  const steady = latencies.slice(1);
  return {
    format,
    series,
    maxSeries: result.maxSeries,
    recordsPerS: result.recordsPerS,
    scrapes: scrapes.length,
    firstMs: latencies[0],
    steadyMs: steady.length
      ? { p50: percentile(steady, 0.5), p99: percentile(steady, 0.99), max: Math.max(...steady) }
      : undefined,
    bodyBytes: scrapes[scrapes.length - 1].bytes,
    seriesInBody,
    lagMs: result.lagMs,
    produced: result.produced,
    drained: result.drained,
    lost: result.lost,
    lostInScrapes: lostDuring(result.lossSamples, scrapes),
    latenciesMs: latencies,
    problems: [...result.problems, ...[...bodyProblems].map((p) => `${format} body: ${p}`)],
  };
}

const seriesName = (n: number): string => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));
const ms = (value: number | undefined): string => (value === undefined ? '-' : value.toFixed(1));

function verdicts(rows: Row[]): string[] {
  if (!rows.some((r) => r.series === TARGET_SERIES))
    return [`targets are stated at ${seriesName(TARGET_SERIES)} series: not measured (add it to --series)`];
  return rows.filter((r) => r.series === TARGET_SERIES).flatMap(verdictsOf);
}

function verdictsOf(row: Row): string[] {
  const p99 = row.steadyMs?.p99;
  const fast =
    p99 === undefined
      ? 'not measured (one scrape took the run: raise --seconds)'
      : p99 <= TARGET_MS
        ? 'met'
        : 'NOT MET';
  return [
    `/metrics (${row.format}) <= ${TARGET_MS} ms at ${seriesName(TARGET_SERIES)} series (p99 of the scrapes after the first): ` +
      `${fast} (p99 ${ms(p99)} ms, max ${ms(row.steadyMs?.max)} ms, first scrape ${ms(row.firstMs)} ms)`,
    `no records lost during a ${row.format} scrape at ${seriesName(TARGET_SERIES)} series: ` +
      `${row.lostInScrapes === 0 ? 'met' : 'NOT MET'} (${row.lostInScrapes} lost while a scrape was in flight, ` +
      `${row.lost} in the whole run, of ${row.produced} produced)`,
  ];
}

function printTable(info: Record<string, string | number>, settings: Settings, rows: Row[]): void {
  console.log(
    `cpu: ${info.cpu} (${info.cores} cores)  kernel: ${info.kernel}  libbpf: ${info.libbpf}  node: ${info.node}\n` +
      `load average (1/5/15 min) at start: ${info.load}, at end: ${loadAverage()}`,
  );
  const asked = settings.rate === 0 ? 'unpaced' : `${settings.rate} records/s asked`;
  console.log(
    `workload: syscall_loop getppid() x ${LOADGEN_BATCH} exec_records per call (${asked}), comms cycling over ` +
      `the series count; agent path in a child (4 MiB ring, wakeup 1 MiB, 20 ms timer, attribution on, ` +
      `--max-series max(2000, 2 x series)); ${settings.seconds} s per row, GET /metrics every ${settings.intervalMs} ms ` +
      `from ${WARMUP_MS} ms on (a tick missed during a longer scrape is skipped); ` +
      `latency p50/p99/max over the scrapes after the first; rows alternate text (no Accept header) and ` +
      `protobuf (Prometheus 2.42's native-histograms Accept: ${PROMETHEUS_242_NATIVE_ACCEPT})\n`,
  );
  const header = [
    'format',
    'series',
    'records/s',
    'scrapes',
    'first ms',
    'p50 ms',
    'p99 ms',
    'max ms',
    'body KiB',
    'in body',
    'lag p50',
    'lag p99',
    'lag max',
    'produced',
    'lost',
    'lost in scrapes',
    'check',
  ];
  const lines = rows.map((r) => [
    r.format,
    seriesName(r.series),
    r.recordsPerS.toFixed(0),
    String(r.scrapes),
    ms(r.firstMs),
    ms(r.steadyMs?.p50),
    ms(r.steadyMs?.p99),
    ms(r.steadyMs?.max),
    (r.bodyBytes / 1024).toFixed(0),
    String(r.seriesInBody),
    ms(r.lagMs.p50),
    ms(r.lagMs.p99),
    ms(r.lagMs.max),
    String(r.produced),
    String(r.lost),
    String(r.lostInScrapes),
    r.problems.length ? 'OFF' : 'exact',
  ]);
  printColumns(header, lines);
  console.log();
  const reached = Math.min(...rows.map((r) => r.recordsPerS));
  console.log(
    `generator: ${asked}; lowest rate reached in a row ${reached.toFixed(0)} records/s` +
      (settings.rate > 0 && reached < 0.99 * settings.rate ? ' (short of the asked rate)' : ''),
  );
  for (const line of verdicts(rows)) console.log(line);
}

async function main(): Promise<number> {
  const settings = parseArgs(process.argv.slice(2));
  for (const file of [SYSCALL_LOOP, LOADGEN_OBJECT]) {
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: run make bpf and make -C bench`);
  }
  const info = machine();
  const rows: Row[] = [];
  // Formats alternate row by row, so drift on the machine falls on both alike.
  for (const series of settings.series) for (const format of FORMATS) rows.push(await run(format, series, settings));
  const problems = rows.flatMap((r) => r.problems.map((p) => `${seriesName(r.series)} series, ${r.format}: ${p}`));
  if (settings.json) {
    const target = { series: TARGET_SERIES, ms: TARGET_MS, lostInScrapes: 0 };
    console.log(JSON.stringify({ machine: info, settings, target, rows, verdicts: verdicts(rows), problems }, null, 2));
  } else {
    printTable(info, settings, rows);
  }
  for (const problem of problems) console.error(`counts do not verify: ${problem}`);
  return problems.length ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
