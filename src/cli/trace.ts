// `kernscope trace PROBE[,PROBE...]`: decoded events as they happen, an
// aligned table or JSON lines, until Ctrl-C or --duration, then a summary.
// Filters the kernel can apply (pid, cgroup, container, a literal comm,
// minimum latency) are applied there; a comm pattern is matched here.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';

import type { AgentOptions } from '../config/AgentOptions';
import { flagLayer, useProbeDirs } from '../config/loadConfig';
import { resolveCgroup } from '../kernel/cgroup';
import { CONTAINER_ID_ACCEPTED, containerCgroup, isContainerId } from '../enrich/containerCgroup';
import { missingKernelBtf } from '../kernel/hostSupport';
import { missingBpfPrivileges } from '../kernel/privileges';
import { ensureTracefs } from '../kernel/tracefs';
import { describeVariant, ProbeLoadError } from '../load/ProbeLoader';
import type { LoadSettings } from '../load/ProbeLoader';
import { addon } from '../native/addon';
import { BUILTIN_PROBES, allProbes, findProbe } from '../probes';
import type { ProbeDefinition } from '../probes/ProbeDefinition';
import type { TraceEvent } from '../trace/TraceFormat';
import { TraceTable, clockTime, jsonLine } from '../trace/TraceFormat';
import { TraceSession } from '../trace/TraceSession';
import { TraceSummary } from '../trace/TraceSummary';
import { UsageError } from './UsageError';

const traceable = (): string =>
  allProbes()
    .filter((p) => p.trace)
    .map((p) => p.name)
    .join(', ');

export const TRACE_HELP = `Usage: kernscope trace PROBE[,PROBE...] [options]

Streams each event of the probes as it happens: time, pid, command and the
probe's own fields (addresses and ports, disk, bytes, syscall, errno, latency).
Ctrl-C or --duration ends it with a summary. Lost events are reported inline.

Probes: ${traceable()}, and user probes with a trace section (--probe-dir)

Options:
  --json               one JSON object per line (the summary goes to stderr)
  --pid N              only process N (in the kernel)
  --comm REGEX         only commands matching REGEX in full; a plain name is matched in the kernel
  --cgroup PATH        only tasks in this cgroup v2 directory and below (in the kernel)
  --container ID       only this container (its cgroup; ID as crictl ps / docker ps show it)
  --min-latency MS     only events at least this slow (probes that measure a latency)
  --duration S         stop after S seconds
  --probe-dir DIR      user probes (README, Your own probes): those with a trace section; repeatable
  -h, --help           this text

Examples:
  kernscope trace exec                           what is exec-ing
  kernscope trace tcp --min-latency 10           connects slower than 10 ms, who and where
  kernscope trace blockio,runqueue --duration 30 is the disk or the run queue slow
  kernscope trace syscalls --pid 1234 --json     one process's syscalls as JSON lines
`;

interface TraceArgs {
  probes: ProbeDefinition[];
  json: boolean;
  settings: LoadSettings;
  commPattern?: RegExp;
  durationMs?: number;
}

function usage(message: string): UsageError {
  return new UsageError(`${message}; see kernscope trace --help`);
}

function positiveNumber(flag: string, value: string | undefined, allowZero = false): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || (n === 0 && !allowZero)) {
    throw usage(
      `invalid ${flag}: ${JSON.stringify(value)}; expected a ${allowZero ? 'non-negative' : 'positive'} number`,
    );
  }
  return n;
}

function selectProbes(list: string): ProbeDefinition[] {
  const names = [...new Set(list.split(',').filter(Boolean))];
  if (names.length === 0) throw usage(`no probe named: expected one or more of ${traceable()}`);
  const probes = names.map((name) => {
    const probe = findProbe(name);
    if (!probe) throw usage(`unknown probe '${name}': expected one of ${traceable()}`);
    if (!probe.trace)
      throw usage(`probe ${name} has no events to trace (it only counts in the kernel): try ${traceable()}`);
    return probe;
  });
  // exec is part of process: both would print every exec twice.
  return probes.filter((p) => !p.subsetOf || !probes.some((q) => q.name === p.subsetOf));
}

/** Flags `trace` shares with the agent (--pid, --cgroup), checked as the agent checks them. */
function agentFilter(flags: { pid?: string; cgroup?: string }): Pick<AgentOptions, 'tgid' | 'cgroup'> {
  const { values, problems } = flagLayer(flags);
  if (problems.errors.length > 0) throw usage(problems.errors[0].message);
  return values as Pick<AgentOptions, 'tgid' | 'cgroup'>; // each checked as its option's type
}

/** A --comm value that is a plain command name, which the kernel can compare (at most 15 bytes). */
function literalComm(pattern: string): string | undefined {
  return /^[A-Za-z0-9_:-]{1,15}$/.test(pattern) ? pattern : undefined;
}

export function parseTraceArgs(argv: string[]): TraceArgs | undefined {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        pid: { type: 'string' },
        comm: { type: 'string' },
        cgroup: { type: 'string' },
        container: { type: 'string' },
        'min-latency': { type: 'string' },
        duration: { type: 'string' },
        'probe-dir': { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return undefined;
  if (positionals.length !== 1) throw usage(`expected one PROBE[,PROBE...] argument, got ${positionals.length}`);
  useProbeDirs({ 'probe-dir': values['probe-dir'] });
  const probes = selectProbes(positionals[0]);
  const user = probes.find((p) => p.user);
  const kernelFilter = ['pid', 'cgroup', 'container'].find((flag) => values[flag as 'pid'] !== undefined);
  if (user && kernelFilter) {
    throw usage(
      `--${kernelFilter} filters in the kernel, which user probe ${user.name} does not: filter in its program, or use --comm`,
    );
  }

  const settings: LoadSettings = { ringBytes: 8 * 1024 * 1024, wakeupBytes: 64 * 1024 };
  const { tgid } = agentFilter({ pid: values.pid });
  if (tgid !== undefined) {
    // A trace shows what happens now: for a pid no process has, it would show nothing.
    if (!existsSync(`/proc/${tgid}`)) throw usage(`invalid --pid: no process ${tgid} is running`);
    settings.tgid = tgid;
  }
  let commPattern: RegExp | undefined;
  if (values.comm !== undefined) {
    try {
      commPattern = new RegExp(`^(?:${values.comm})$`);
    } catch (error) {
      throw usage(`invalid --comm: ${(error as Error).message}`);
    }
    settings.comm = literalComm(values.comm);
  }
  if (values.cgroup !== undefined && values.container !== undefined) {
    throw usage('--cgroup and --container both choose a cgroup: give one');
  }
  const { cgroup } = agentFilter({ cgroup: values.cgroup });
  if (cgroup !== undefined) settings.cgroup = resolveCgroup(cgroup);
  if (values.container !== undefined) {
    const id = values.container.toLowerCase();
    try {
      if (!isContainerId(id)) throw new Error(`${JSON.stringify(values.container)}; expected ${CONTAINER_ID_ACCEPTED}`);
      settings.cgroup = resolveCgroup(containerCgroup(id));
    } catch (error) {
      throw usage(`invalid --container: ${(error as Error).message}`);
    }
  }
  const minLatencyMs = positiveNumber('--min-latency', values['min-latency'], true);
  if (minLatencyMs !== undefined && !probes.some((p) => p.trace?.minLatency)) {
    const withLatency = BUILTIN_PROBES.filter((p) => p.trace?.minLatency).map((p) => p.name);
    throw usage(`--min-latency applies to probes that measure a latency (${withLatency.join(', ')})`);
  }
  settings.trace = { minLatencyNs: Math.round((minLatencyMs ?? 0) * 1e6), skipTgid: process.pid };
  const duration = positiveNumber('--duration', values.duration);
  return { probes, json: values.json ?? false, settings, commPattern, durationMs: duration && duration * 1000 };
}

/** Output lines, written in batches: one write per drain rather than per event. */
class Output {
  private pending: string[] = [];
  private timer = setInterval(() => this.flush(), 50);
  closed = false;

  constructor(private readonly onClosed: () => void) {
    process.stdout.on('error', () => {
      // A reader that went away (`| head`): stop quietly.
      this.closed = true;
      this.onClosed();
    });
  }

  line(text: string): void {
    if (!this.closed) this.pending.push(text);
    if (this.pending.length >= 1000) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0 || this.closed) return;
    process.stdout.write(`${this.pending.join('\n')}\n`);
    this.pending = [];
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

export async function traceCommand(argv: string[]): Promise<number> {
  const args = parseTraceArgs(argv);
  if (!args) {
    process.stdout.write(TRACE_HELP);
    return 0;
  }
  const missing = missingKernelBtf() ?? missingBpfPrivileges();
  if (missing) throw new UsageError(missing, 1);
  const note = ensureTracefs();
  if (note) process.stderr.write(`kernscope: ${note}\n`);

  const traces = new Map(args.probes.map((p) => [p.name, p.trace!]));
  const table = new TraceTable(traces);
  const summary = new TraceSummary();
  let finish: (() => void) | undefined;
  const output = new Output(() => finish?.());
  const session = new TraceSession(
    {
      event: (event: TraceEvent) => {
        summary.add(event);
        output.line(args.json ? jsonLine(event) : table.row(event));
      },
      lost: (probe, count) =>
        output.line(
          args.json
            ? JSON.stringify({ time: new Date().toISOString(), probe, lost: count })
            : `${clockTime(Date.now())} LOST ${count} ${probe} events (ring full or re-entrant runs)`,
        ),
    },
    args.commPattern,
  );

  const names = args.probes.map((p) => p.name).join(', ');
  process.stderr.write(`kernscope: loading ${names}...\n`);
  try {
    session.start(args.probes, addon.kernelFeatures(), args.settings, (loaded) =>
      process.stderr.write(
        `kernscope: ${loaded.definition.name} attached: ${loaded.chosen.map((c) => describeVariant(c.variant)).join(', ')}\n`,
      ),
    );
  } catch (error) {
    output.close();
    if (error instanceof ProbeLoadError) throw new UsageError(error.message, 1);
    throw error;
  }
  const started = Date.now();
  process.stderr.write(
    `kernscope: tracing ${names}${args.durationMs ? ` for ${args.durationMs / 1000} s` : ''}; Ctrl-C to stop\n`,
  );
  if (!args.json) for (const heading of table.headings()) output.line(heading);

  await new Promise<void>((resolve) => {
    finish = resolve;
    if (args.durationMs) setTimeout(resolve, args.durationMs);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => resolve());
  });
  session.stop();
  output.close();
  const text = summary.text(session.totals, (Date.now() - started) / 1000);
  (args.json || output.closed ? process.stderr : process.stdout).write(`${text}\n`);
  return session.totals.invalid > 0 ? 1 : 0;
}
