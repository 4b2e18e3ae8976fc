// Memory benchmark (performance record, table 4): the agent's resident set
// (VmRSS of /proc/PID/status).
//
// Idle: the real CLI agent (`node dist/src/cli/main.js run`) with every probe
// and its defaults (attribution on), on this machine's own activity and no
// generated load; read once /readyz answers 200, one /metrics scrape has been
// served (as Prometheus would) and IDLE_SETTLE_S more seconds have passed.
//
// Under load: the agent cannot be fed a million real events a second (no
// probe sees that many), so this is the agent path in a child process
// (bench/loadedAgent.ts: the exec probe's drain, counter by comm, attribution
// and /metrics) consuming --rate generated records/s over --series comms,
// scraped every SAMPLE_S (half-way between two RSS samples). RSS is sampled
// every SAMPLE_S; after --warmup-s, the run's figures: start, end, max, the
// least-squares slope and the spread around the start. The producer runs for
// warm-up + --minutes, so `--minutes 1` takes two minutes.
//
// usage: node dist/bench/memory.js [--json] [--minutes M] [--warmup-s S] [--series N] [--rate N|max]
import type { ChildProcessByStdio } from 'node:child_process';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable } from 'node:stream';

import { PACKAGE_ROOT } from '../src/native/addon';
import { LOADGEN_OBJECT, SYSCALL_LOOP } from './generator';
import type { LoadResult } from './loadedAgent';
import { LOADGEN_BATCH, LoadedAgent, gcPausesText, httpGet } from './loadedAgent';
import { loadAverage, machine } from './machine';
import type { RssSample, RssSummary, Status } from './rss';
import { afterWarmup, mib, minuteRows, percent, status } from './rss';

const USAGE = 'usage: node dist/bench/memory.js [--json] [--minutes M] [--warmup-s S] [--series N] [--rate N|max]';
const CLI = path.join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'main.js');
const IDLE_SETTLE_S = 20;
const READY_TIMEOUT_MS = 30000;
const SAMPLE_S = 10;
/** The producer runs this long past the last sample, so the child is still there to be read. */
const TAIL_S = 3;
const IDLE_TARGET_BYTES = 100e6;
/** Flat: every sample after the warm-up within this share of the first one. */
const FLAT_SHARE = 0.1;

interface Settings {
  json: boolean;
  minutes: number;
  warmupS: number;
  series: number;
  /** Records per second; 0: unpaced. */
  rate: number;
}

interface Idle extends Status {
  /** From spawn to /readyz 200. */
  readyMs: number;
  rssAtReadyBytes: number;
  attached: string[];
  notAttached: string[];
}

interface LoadRun extends RssSummary {
  samples: RssSample[];
  peakBytes: number;
  /** The child's count (lossSamples empty: not sampled here). */
  result: LoadResult;
}

function positive(flag: string, text: string | undefined): number {
  const value = Number(text);
  if (!(value > 0)) throw new Error(`invalid ${flag}: ${text}; expected a positive number\n${USAGE}`);
  return value;
}

function parseArgs(argv: string[]): Settings {
  const settings: Settings = { json: false, minutes: 10, warmupS: 60, series: 1000, rate: 1e6 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') settings.json = true;
    else if (arg === '--minutes') settings.minutes = positive(arg, argv[++i]);
    else if (arg === '--warmup-s') settings.warmupS = positive(arg, argv[++i]);
    else if (arg === '--series') settings.series = Math.round(positive(arg, argv[++i]));
    else if (arg === '--rate') {
      const text = argv[++i];
      settings.rate = text === 'max' ? 0 : Math.round(positive(arg, text));
    } else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  if (settings.minutes * 60 < SAMPLE_S) throw new Error(`--minutes must cover an RSS sample (${SAMPLE_S} s)\n${USAGE}`);
  return settings;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with the agent's port and probes from its "kernscope running" log line. */
function running(
  child: ChildProcessByStdio<null, null, Readable>,
): Promise<{ port: number; attached: string[]; notAttached: string[] }> {
  return new Promise((resolve, reject) => {
    const notAttached: string[] = [];
    const lines = readline.createInterface({ input: child.stderr });
    const timer = setTimeout(
      () => reject(new Error(`agent not running after ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    );
    child.once('exit', (code) => reject(new Error(`agent exited (${code}) before running`)));
    lines.on('line', (line) => {
      const failed = /msg="probe not attached" probe=(\S+)/.exec(line);
      if (failed) notAttached.push(failed[1]);
      const match = /msg="kernscope running" listen=\S+:(\d+) probes=(\S*)/.exec(line);
      if (!match) return;
      clearTimeout(timer);
      resolve({ port: Number(match[1]), attached: match[2].split(','), notAttached });
    });
  });
}

/** The real CLI agent, every probe, defaults: RSS once it has started, served a scrape and settled. */
async function idle(): Promise<Idle> {
  const spawned = Date.now();
  const child = spawn(process.execPath, [CLI, 'run', '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    const { port, attached, notAttached } = await running(child);
    while ((await httpGet(port, '/readyz')).status !== 200) {
      if (Date.now() - spawned > READY_TIMEOUT_MS) throw new Error(`agent not ready after ${READY_TIMEOUT_MS} ms`);
      await sleep(50);
    }
    const readyMs = Date.now() - spawned;
    const atReady = status(child.pid!);
    const scrape = await httpGet(port, '/metrics');
    if (scrape.status !== 200) throw new Error(`/metrics answered ${scrape.status}`);
    await sleep(IDLE_SETTLE_S * 1000);
    return { ...status(child.pid!), readyMs, rssAtReadyBytes: atReady.rssBytes, attached, notAttached };
  } finally {
    await stop(child);
  }
}

/** SIGTERM (the agent detaches and exits within 5 s), then SIGKILL. */
async function stop(child: ChildProcessByStdio<null, null, Readable>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
  await exited;
  clearTimeout(timer);
}

async function underLoad(settings: Settings): Promise<LoadRun> {
  const seconds = settings.warmupS + settings.minutes * 60;
  const load = await LoadedAgent.start({
    series: settings.series,
    rate: settings.rate,
    seconds: seconds + TAIL_S,
    lossSamples: false,
  });
  const samples: RssSample[] = [{ t: 0, rssBytes: status(load.pid).rssBytes }];
  let peakBytes = 0;
  try {
    for (let half = 1; (half * SAMPLE_S) / 2 <= seconds; half++) {
      const t = (half * SAMPLE_S) / 2;
      await load.until(t * 1000);
      if (half % 2 === 1) {
        await load.scrape();
        continue;
      }
      const now = status(load.pid);
      samples.push({ t, rssBytes: now.rssBytes });
      peakBytes = now.peakBytes;
    }
  } catch (error) {
    load.kill();
    throw error;
  }
  const result = await load.finish();
  return {
    samples,
    ...afterWarmup(samples, settings.warmupS),
    peakBytes,
    result,
  };
}

function verdicts(idleRun: Idle, load: LoadRun): string[] {
  const idleMet = idleRun.rssBytes <= IDLE_TARGET_BYTES;
  const flat = load.spread[0] >= -FLAT_SHARE && load.spread[1] <= FLAT_SHARE;
  return [
    `RSS idle <= 100 MB (${mib(IDLE_TARGET_BYTES)} MiB), real CLI agent: ${idleMet ? 'met' : 'NOT MET'} ` +
      `(${mib(idleRun.rssBytes)} MiB = ${(idleRun.rssBytes / 1e6).toFixed(1)} MB)`,
    `RSS flat under load, within +-${100 * FLAT_SHARE}% of the post-warm-up value: ${flat ? 'met' : 'NOT MET'} ` +
      `(start ${mib(load.startBytes)} MiB, samples ${percent(load.spread[0])} to ${percent(load.spread[1])}, ` +
      `slope ${mib(load.slopeBytesPerMin)} MiB/min)`,
  ];
}

function print(info: Record<string, string | number>, settings: Settings, idleRun: Idle, load: LoadRun): void {
  console.log(
    `cpu: ${info.cpu} (${info.cores} cores)  kernel: ${info.kernel}  libbpf: ${info.libbpf}  node: ${info.node}\n` +
      `load average (1/5/15 min) at start: ${info.load}, at end: ${loadAverage()}\n`,
  );
  console.log(
    `idle: real CLI agent (node dist/src/cli/main.js run, every probe, defaults: attribution on)\n` +
      `  attached: ${idleRun.attached.join(',')}` +
      (idleRun.notAttached.length ? `; not attached: ${idleRun.notAttached.join(',')}` : '') +
      `\n  ready (/readyz 200) after ${(idleRun.readyMs / 1000).toFixed(1)} s: RSS ${mib(idleRun.rssAtReadyBytes)} MiB; ` +
      `after one /metrics scrape and ${IDLE_SETTLE_S} s more: RSS ${mib(idleRun.rssBytes)} MiB ` +
      `(peak VmHWM ${mib(idleRun.peakBytes)} MiB)\n`,
  );
  const asked = settings.rate === 0 ? 'unpaced' : `${settings.rate} records/s asked`;
  const r = load.result;
  console.log(
    `under load: agent path in a child (bench/loadedAgent.ts), syscall_loop x ${LOADGEN_BATCH} exec_records per call ` +
      `(${asked}, ${r.recordsPerS.toFixed(0)} reached), ${settings.series} series, --max-series ${r.maxSeries}, ` +
      `/metrics every ${SAMPLE_S} s; RSS every ${SAMPLE_S} s, warm-up ${settings.warmupS} s, then ${settings.minutes} min`,
  );
  console.log('  RSS MiB, one line per minute from the start of the producer:');
  for (const row of minuteRows(load.samples)) console.log(`  ${row}`);
  console.log(
    `  after warm-up: start ${mib(load.startBytes)}  end ${mib(load.endBytes)}  max ${mib(load.maxBytes)}  ` +
      `min ${mib(load.minBytes)} MiB  slope ${mib(load.slopeBytesPerMin)} MiB/min  ` +
      `spread ${percent(load.spread[0])} to ${percent(load.spread[1])}  (VmHWM ${mib(load.peakBytes)} MiB)`,
  );
  console.log(
    `  records: produced ${r.produced}, drained ${r.drained}, lost ${r.lost} (${r.problems.length ? 'OFF' : 'exact'}); ` +
      `event-loop lag p50 ${r.lagMs.p50.toFixed(1)} ms, p99 ${r.lagMs.p99.toFixed(1)} ms, max ${r.lagMs.max.toFixed(1)} ms`,
  );
  console.log(`  garbage-collector pauses: ${gcPausesText(r.gcPauses)}\n`);
  for (const line of verdicts(idleRun, load)) console.log(line);
}

async function main(): Promise<number> {
  const settings = parseArgs(process.argv.slice(2));
  for (const file of [SYSCALL_LOOP, LOADGEN_OBJECT, CLI]) {
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: run make build and make -C bench`);
  }
  const info = machine();
  const idleRun = await idle();
  const load = await underLoad(settings);
  const problems = load.result.problems;
  if (settings.json) {
    const target = { idleBytes: IDLE_TARGET_BYTES, flatShare: FLAT_SHARE };
    const verdictLines = verdicts(idleRun, load);
    console.log(
      JSON.stringify(
        { machine: info, settings, target, idle: idleRun, load, verdicts: verdictLines, problems },
        null,
        2,
      ),
    );
  } else {
    print(info, settings, idleRun, load);
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
