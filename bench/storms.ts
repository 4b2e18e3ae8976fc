// Storms benchmark: what tracing costs workloads that make many short-lived
// processes or connections. bench/storm runs N fork + exec of /bin/true, or
// N loopback TCP connect/accept/close pairs in one process, pinned to the
// last CPU, and reports the time per exec or connection: with nothing
// attached, with kernscope's agent (`process`, `tcp`), with the libbpf-tools
// that trace the same events and with a bpftrace one-liner. Tracers are
// system-wide, as their defaults are; configurations alternate, median of
// trials. A tool this kernel cannot attach (libbpf-tools' tcpconnect and
// tcpconnlat need kprobes or fentry) is reported as unavailable and skipped.
//
// usage: node dist/bench/storms.js [--json] [--trials N] [--execs N] [--connections N]
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { PACKAGE_ROOT } from '../src/native/addon';
import { loadAverage, machine } from './machine';
import type { Tracer } from './tracers';
import { NOTHING, agent, command, measureUnderEach, median } from './tracers';
import { positiveInt } from './report';

const STORM = path.join(PACKAGE_ROOT, 'dist', 'bench', 'storm');
const USAGE = 'usage: node dist/bench/storms.js [--json] [--trials N] [--execs N] [--connections N]';

/** Connect latency as kernscope's tcp probe measures it: SYN_SENT (2) until it leaves that state. */
const BPFTRACE_CONNECT =
  'tracepoint:sock:inet_sock_set_state /args->newstate == 2/ { @start[args->skaddr] = nsecs; } ' +
  'tracepoint:sock:inet_sock_set_state /args->oldstate == 2 && @start[args->skaddr]/ ' +
  '{ @connect_us = hist((nsecs - @start[args->skaddr]) / 1000); delete(@start[args->skaddr]); }';

interface Storm {
  /** storm's mode. */
  kind: 'exec' | 'connect';
  unit: string;
  /** The kernscope row the ratios are taken from. */
  kernscope: string;
  tracers: Tracer[];
}

const STORMS: Storm[] = [
  {
    kind: 'exec',
    unit: 'exec',
    kernscope: 'kernscope process probe (agent)',
    tracers: [
      NOTHING,
      agent('kernscope process probe (agent)', 'process'),
      command('libbpf-tools execsnoop', '/usr/sbin/execsnoop', [], /PCOMM/),
      command(
        'bpftrace exec count by comm',
        'bpftrace',
        ['-e', 'tracepoint:sched:sched_process_exec { @[comm] = count(); }'],
        /Attaching/,
      ),
    ],
  },
  {
    kind: 'connect',
    unit: 'connection',
    kernscope: 'kernscope tcp probe (agent)',
    tracers: [
      NOTHING,
      agent('kernscope tcp probe (agent)', 'tcp'),
      command('libbpf-tools tcpconnect', '/usr/sbin/tcpconnect', [], /DPORT/),
      command('libbpf-tools tcpconnlat', '/usr/sbin/tcpconnlat', [], /DPORT/),
      command('libbpf-tools tcplife', '/usr/sbin/tcplife', [], /LADDR/),
      command('bpftrace connect latency', 'bpftrace', ['-e', BPFTRACE_CONNECT], /Attaching/),
    ],
  },
];

interface Settings {
  json: boolean;
  trials: number;
  execs: number;
  connections: number;
}

interface StormResult {
  kind: Storm['kind'];
  ops: number;
  rows: { tracer: string; nsPerOp: number; addedNs: number; trials: number[] }[];
  unavailable: { tracer: string; reason: string }[];
  /** kernscope's added ns over each other tracer's; null where that tracer added nothing measurable (<= 0). */
  ratios: { tracer: string; ratio: number | null }[];
}

function parseArgs(argv: string[]): Settings {
  const settings: Settings = { json: false, trials: 5, execs: 2000, connections: 20000 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') settings.json = true;
    else if (arg === '--trials') settings.trials = positiveInt('--trials', argv[++i], USAGE);
    else if (arg === '--execs') settings.execs = positiveInt('--execs', argv[++i], USAGE);
    else if (arg === '--connections') settings.connections = positiveInt('--connections', argv[++i], USAGE);
    else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  return settings;
}

/** ns per operation of one storm of `ops`. */
async function timeStorm(kind: Storm['kind'], ops: number): Promise<number> {
  // Pinned to the last CPU: one placement for every configuration, less run-to-run noise.
  const { stdout } = await promisify(execFile)(
    'taskset',
    ['-c', String(os.cpus().length - 1), STORM, kind, String(ops)],
    { encoding: 'utf8', timeout: 600_000 },
  );
  const result = JSON.parse(stdout) as { ops: number; seconds: number };
  return (result.seconds * 1e9) / result.ops;
}

/**
 * The tracers that attach here, after one start and stop each. An established
 * tool that cannot is left out with its last line of output as the reason;
 * kernscope or nothing failing is an error.
 */
async function attachable(storm: Storm): Promise<{ tracers: Tracer[]; unavailable: StormResult['unavailable'] }> {
  const tracers: Tracer[] = [];
  const unavailable: StormResult['unavailable'] = [];
  for (const tracer of storm.tracers) {
    try {
      await (await tracer.start()).stop();
      tracers.push(tracer);
    } catch (error) {
      if (tracer === NOTHING || tracer.name === storm.kernscope) throw error;
      const lines = (error instanceof Error ? error.message : String(error)).trim().split('\n');
      unavailable.push({ tracer: tracer.name, reason: lines[lines.length - 1] });
    }
  }
  return { tracers, unavailable };
}

async function runStorm(storm: Storm, settings: Settings): Promise<StormResult> {
  const ops = storm.kind === 'exec' ? settings.execs : settings.connections;
  const { tracers, unavailable } = await attachable(storm);
  const results = await measureUnderEach(tracers, settings.trials, () => timeStorm(storm.kind, ops));
  const base = median(results.get(NOTHING.name)!);
  const rows = tracers.map((t) => {
    const trials = results.get(t.name)!;
    const nsPerOp = median(trials);
    return { tracer: t.name, nsPerOp, addedNs: nsPerOp - base, trials };
  });
  const ours = rows.find((r) => r.tracer === storm.kernscope)!.addedNs;
  const ratios = rows
    .filter((r) => r.tracer !== NOTHING.name && r.tracer !== storm.kernscope)
    .map((r) => ({ tracer: r.tracer, ratio: r.addedNs > 0 ? ours / r.addedNs : null }));
  return { kind: storm.kind, ops, rows, unavailable, ratios };
}

/** The established tools' versions, for the header. */
function toolVersions(): string {
  const version = (file: string, args: string[]): string => {
    try {
      return execFileSync(file, args, { encoding: 'utf8' }).trim();
    } catch {
      return 'not found';
    }
  };
  const libbpfTools = version('dpkg-query', ['-W', '-f=${Version}', 'libbpf-tools']);
  return `libbpf-tools: ${libbpfTools}  ${version('bpftrace', ['--version'])}`;
}

function print(info: Record<string, string | number>, settings: Settings, results: StormResult[]): void {
  console.log(`cpu: ${info.cpu} (${info.cores} cores)  kernel: ${info.kernel}  node: ${info.node}`);
  console.log(`libbpf: ${info.libbpf}  ${toolVersions()}`);
  console.log(`load average (1/5/15 min) at start: ${info.load}, at end: ${loadAverage()}`);
  console.log(
    `workload: bench/storm pinned to CPU ${os.cpus().length - 1}: exec = fork + exec /bin/true + wait, ` +
      `${settings.execs} per trial; connect = loopback TCP connect + accept + close, ${settings.connections} ` +
      `per trial; median of ${settings.trials} trials; tracers system-wide`,
  );
  for (const result of results) {
    const unit = STORMS.find((s) => s.kind === result.kind)!.unit;
    console.log(`\n${result.kind} storm`);
    console.log(
      `${'tracer'.padEnd(36)} ${`ns/${unit}`.padStart(15)} ${'added ns'.padStart(10)} ${'x nothing'.padStart(9)}`,
    );
    const base = result.rows.find((r) => r.tracer === NOTHING.name)!.nsPerOp;
    for (const row of result.rows) {
      console.log(
        `${row.tracer.padEnd(36)} ${row.nsPerOp.toFixed(0).padStart(15)} ${row.addedNs.toFixed(0).padStart(10)} ` +
          `${(row.nsPerOp / base).toFixed(3).padStart(9)}`,
      );
    }
    for (const { tracer, reason } of result.unavailable) console.log(`${tracer.padEnd(36)} unavailable: ${reason}`);
    for (const { tracer, ratio } of result.ratios) {
      const text = ratio === null ? 'n/a (it added <= 0 ns: within the noise)' : ratio.toFixed(2);
      console.log(`  kernscope added / ${tracer} added: ${text}`);
    }
  }
}

async function main(): Promise<void> {
  const settings = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(STORM)) throw new Error(`${STORM} is missing: run make -C bench`);
  const info = machine();
  const results: StormResult[] = [];
  for (const storm of STORMS) results.push(await runStorm(storm, settings));
  if (settings.json)
    console.log(JSON.stringify({ machine: info, tools: toolVersions(), settings, storms: results }, null, 2));
  else print(info, settings, results);
}

main().catch((error: unknown) => {
  console.error(`storms: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
