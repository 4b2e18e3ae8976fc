// Soak (`make soak`, not part of `make test`): the agent path in a child
// (bench/loadedAgent.ts) under --rate generated records/s for a warm-up and
// --minutes more, scraped every second, exporting over OTLP/gRPC every 10 s
// to a real receiver (test/helpers/otlpReceiver.ts). Criteria: RSS within
// +-10% of its value after the warm-up, 0 records lost (every record drained
// and counted under its comm), no log line on the child's stderr, and the
// receiver's last cumulative kernscope_events_total equal to the records
// drained. Prints RSS and records lost so far every 10 s (the lost count read
// from each scrape), a per-minute table, the seconds in which records were
// lost and the child's garbage-collector pauses; exits 1 if a criterion fails.
//
// usage: node dist/bench/soak.js [--minutes M] [--warmup-s S] [--rate N] [--series N]
import fs from 'node:fs';

import { otlpName } from '../src/export/otlpNames';
import { parseMetrics, sumOf } from '../test/helpers/metrics';
import { OtlpReceiver } from '../test/helpers/otlpReceiver';
import { LOADGEN_OBJECT, SYSCALL_LOOP } from './generator';
import { LOADGEN_BATCH, LoadedAgent, gcPausesText } from './loadedAgent';
import { loadAverage, machine } from './machine';
import { positiveInt } from './report';
import type { RssSample } from './rss';
import { afterWarmup, mib, minuteRows, percent, status } from './rss';

const USAGE = 'usage: node dist/bench/soak.js [--minutes M] [--warmup-s S] [--rate N] [--series N]';
const SCRAPE_S = 1;
const RSS_S = 10;
const EXPORT_MS = 10000;
/** The producer runs this long past the last sample, so the child is still there to be read. */
const TAIL_S = 3;
const FLAT_SHARE = 0.1;
const FLOOR_S = 300;

interface Settings {
  minutes: number;
  warmupS: number;
  rate: number;
  series: number;
}

function parseArgs(argv: string[]): Settings {
  const settings: Settings = { minutes: 30, warmupS: 60, rate: 500000, series: 1000 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--minutes') settings.minutes = positiveInt(arg, argv[++i], USAGE);
    else if (arg === '--warmup-s') settings.warmupS = positiveInt(arg, argv[++i], USAGE);
    else if (arg === '--rate') settings.rate = positiveInt(arg, argv[++i], USAGE);
    else if (arg === '--series') settings.series = positiveInt(arg, argv[++i], USAGE);
    else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  return settings;
}

/** The last cumulative value of kernscope_events_total{probe="exec"} the receiver got. */
function exportedEvents(receiver: OtlpReceiver): number | undefined {
  const metric = receiver.latestMetrics().get(otlpName('kernscope_events_total', 'counter').name);
  return metric?.points.find((p) => p.attributes.probe === 'exec')?.value;
}

interface HeapSample {
  /** Seconds since the load started. */
  t: number;
  /** prom-client's nodejs_heap_size_used_bytes. */
  usedBytes: number;
}

/**
 * The lowest JS heap used in the first and in the last FLOOR_S after the warm-up: garbage waits for a
 * major GC, so the heap (and RSS) swing; what survives every collection is the floor, which a leak raises.
 */
function heapFloors(samples: HeapSample[], warmupS: number): string {
  const after = samples.filter((s) => s.t >= warmupS);
  const end = after[after.length - 1].t;
  const floor = (from: number, to: number): string =>
    mib(Math.min(...after.filter((s) => s.t >= from && s.t <= to).map((s) => s.usedBytes)));
  return (
    `JS heap used, lowest sample: first ${FLOOR_S / 60} min after warm-up ${floor(warmupS, warmupS + FLOOR_S)} MiB, ` +
    `last ${FLOOR_S / 60} min ${floor(end - FLOOR_S, end)} MiB`
  );
}

async function main(): Promise<number> {
  const settings = parseArgs(process.argv.slice(2));
  for (const file of [SYSCALL_LOOP, LOADGEN_OBJECT]) {
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: run make build and make -C bench`);
  }
  const info = machine();
  console.log(
    `cpu: ${info.cpu} (${info.cores} cores)  kernel: ${info.kernel}  libbpf: ${info.libbpf}  node: ${info.node}\n` +
      `load average (1/5/15 min) at start: ${info.load}\n` +
      `soak: agent path in a child (bench/loadedAgent.ts), syscall_loop x ${LOADGEN_BATCH} exec_records per call, ` +
      `${settings.rate} records/s asked, ${settings.series} series; /metrics every ${SCRAPE_S} s, OTLP export every ` +
      `${EXPORT_MS / 1000} s to a gRPC receiver; warm-up ${settings.warmupS} s, then ${settings.minutes} min\n`,
  );

  const teardowns: (() => unknown)[] = [];
  const receiver = await OtlpReceiver.start({ teardown: (fn) => teardowns.push(fn) });
  const seconds = settings.warmupS + settings.minutes * 60;
  try {
    const load = await LoadedAgent.start({
      series: settings.series,
      rate: settings.rate,
      seconds: seconds + TAIL_S,
      lossSamples: false,
      otlp: { endpoint: `http://127.0.0.1:${receiver.port}`, intervalMs: EXPORT_MS },
    });
    const samples: RssSample[] = [{ t: 0, rssBytes: status(load.pid).rssBytes }];
    let scrapes = 0;
    const heapSamples: HeapSample[] = [];
    let lostSoFar = 0;
    const lossSeconds: string[] = [];
    try {
      for (let t = SCRAPE_S; t <= seconds; t += SCRAPE_S) {
        await load.until(t * 1000);
        const { body } = await load.scrape();
        scrapes++;
        const metrics = parseMetrics(body);
        const lost = sumOf(metrics, 'kernscope_events_lost_total');
        if (lost > lostSoFar) lossSeconds.push(`${t} s: +${lost - lostSoFar}`);
        lostSoFar = lost;
        if (t % RSS_S !== 0) continue;
        const rssBytes = status(load.pid).rssBytes;
        samples.push({ t, rssBytes });
        const heapUsed = sumOf(metrics, 'nodejs_heap_size_used_bytes');
        heapSamples.push({ t, usedBytes: heapUsed });
        console.log(
          `  ${String(t).padStart(5)} s  RSS ${mib(rssBytes)} MiB  JS heap ${mib(heapUsed)} of ` +
            `${mib(sumOf(metrics, 'nodejs_heap_size_total_bytes'))} MiB  external ` +
            `${mib(sumOf(metrics, 'nodejs_external_memory_bytes'))} MiB  lost ${lost}  OTLP exports ${receiver.requests.length}`,
        );
      }
    } catch (error) {
      load.kill();
      throw error;
    }
    const result = await load.finish();
    const rss = afterWarmup(samples, settings.warmupS);
    const exported = exportedEvents(receiver);

    console.log('\nRSS MiB, one line per minute from the start of the producer:');
    for (const row of minuteRows(samples)) console.log(`  ${row}`);
    console.log(
      `after warm-up: start ${mib(rss.startBytes)}  end ${mib(rss.endBytes)}  max ${mib(rss.maxBytes)}  ` +
        `min ${mib(rss.minBytes)} MiB  slope ${mib(rss.slopeBytesPerMin)} MiB/min  ` +
        `spread ${percent(rss.spread[0])} to ${percent(rss.spread[1])}`,
    );
    console.log(heapFloors(heapSamples, settings.warmupS));
    console.log(
      `records: produced ${result.produced} (${result.recordsPerS.toFixed(0)}/s), drained ${result.drained}, ` +
        `lost ${result.lost}; scrapes ${scrapes}; OTLP exports received ${receiver.requests.length}, ` +
        `last cumulative kernscope_events_total ${exported}; agent stderr lines ${load.stderrLines.length}; ` +
        `event-loop lag p99 ${result.lagMs.p99.toFixed(1)} ms; load average at end: ${loadAverage()}`,
    );
    console.log(`garbage-collector pauses: ${gcPausesText(result.gcPauses)}\n`);
    for (const problem of result.problems) console.log(`counts do not verify: ${problem}`);
    if (lossSeconds.length > 0)
      console.log(`records lost, by the second of the scrape that saw them: ${lossSeconds.join(', ')}`);

    const flat = rss.spread[0] >= -FLAT_SHARE && rss.spread[1] <= FLAT_SHARE;
    const noLoss = result.lost === 0 && result.problems.length === 0 && exported === result.drained;
    const quiet = load.stderrLines.length === 0;
    const verdicts: [string, boolean][] = [
      [`RSS within +-${100 * FLAT_SHARE}% of its value after warm-up`, flat],
      [`0 records lost (drained = produced, counted by comm, OTLP total = drained)`, noLoss],
      ['no error logs (nothing on the agent\u2019s stderr)', quiet],
    ];
    for (const [what, met] of verdicts) console.log(`${what}: ${met ? 'met' : 'NOT MET'}`);
    return verdicts.every(([, met]) => met) ? 0 : 1;
  } finally {
    for (const fn of teardowns) await fn();
  }
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
