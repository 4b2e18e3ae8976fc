// `kernscope top`: a full-screen live view of the node, one row per container
// (attribution unit), refreshed every interval. The agent runs in-process;
// this file is the command and the terminal: alternate screen, raw keys,
// redraws, and a terminal put back as it was however the session ends.
import { performance } from 'node:perf_hooks';
import { inspect, parseArgs } from 'node:util';

import { Agent } from '../agent/Agent';
import type { MetricFamily } from '../aggregate/MetricFamily';
import type { AgentOptions } from '../config/AgentOptions';
import { DEFAULT_OPTIONS } from '../config/AgentOptions';
import { OptionError } from '../config/OptionError';
import { everySlotBuckets } from '../config/probeOptions';
import { validateOptions } from '../config/validateOptions';
import { missingKernelBtf } from '../kernel/hostSupport';
import { missingBpfPrivileges } from '../kernel/privileges';
import { Logger } from '../log';
import { findProbe } from '../probes';
import type { Snapshot } from '../top/TopModel';
import { topViews } from '../top/TopModel';
import { messageScreen, nextSort, renderTop } from '../top/TopScreen';
import { UsageError } from './UsageError';

const TOP_PROBES = ['syscall_counts', 'process', 'tcp', 'runqueue', 'blockio'];
const MIN_INTERVAL_S = 0.1;
const MAX_INTERVAL_S = 3600;

export const TOP_HELP = `Usage: kernscope top [--interval S]

A full-screen live view of this node, redrawn every interval: per row, rates
over the last interval and latency percentiles of the events in it.

Rows are the agent's attribution units, not processes: containers
(NAMESPACE, POD, CONTAINER, as the metrics label them) and, for processes
outside containers, their cgroup: the systemd unit (sshd.service) or the
cgroup directory's name. The probes count by cgroup in the kernel, so a
process in a cgroup of its own (a service, a scope) is a row of its own.

Views (keys 1-5; Tab the next, Shift-Tab the previous):
  1 syscalls   syscalls/s and the busiest syscall; below, errors/s by
               syscall, node-wide (the kernel does not keep them per cgroup)
  2 process    execs, forks, exits and exits by a signal, per second
  3 tcp        connections/s (in + out), connect latency p99, retransmits/s,
               resets/s
  4 runqueue   run-queue latency p50 and p99, waits/s
  5 blockio    bytes/s read, written and other (discard); below, per disk
               and operation: I/Os/s, bytes/s, latency p50 and p99
Keys: s sorts on the next column (largest first); q or Ctrl-C quits.

Needs a terminal (to a pipe or a file: kernscope stats PROBE, kernscope trace
PROBE) and root, or CAP_BPF and CAP_PERFMON.

Options:
  --interval S   seconds between redraws (default 1; fractions work: 0.5)
  -h, --help     this help

Examples:
  kernscope top                  rates and percentiles of the last second
  kernscope top --interval 5     of the last five seconds
`;

const NOT_A_TERMINAL =
  'top needs a terminal on stdin and stdout; for text to a pipe or a file use kernscope stats PROBE or kernscope trace PROBE';

export function parseTopOptions(argv: string[]): { intervalMs: number } | 'help' {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: { interval: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}; see kernscope top --help`);
  }
  if (values.help) return 'help';
  const raw = values.interval ?? '1';
  const seconds = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || seconds < MIN_INTERVAL_S || seconds > MAX_INTERVAL_S) {
    throw new OptionError('--interval', raw, `seconds from ${MIN_INTERVAL_S} to ${MAX_INTERVAL_S} (1, 0.5, 10)`);
  }
  return { intervalMs: Math.round(seconds * 1000) };
}

/** The top probes with attribution on, series kept for the whole session, every log2 slot a bucket (finer percentiles). */
function agentOptions(): AgentOptions {
  const buckets = (name: string) => ({ buckets: everySlotBuckets(findProbe(name)!) });
  return validateOptions({
    ...DEFAULT_OPTIONS,
    probes: TOP_PROBES,
    attribution: true,
    seriesTtlMs: 0,
    logLevel: 'error',
    probeOptions: Object.fromEntries(TOP_PROBES.map((name) => [name, buckets(name)])),
  });
}

function snapshotOf(families: MetricFamily[]): Snapshot {
  const snapshot = { counters: new Map(), histograms: new Map() };
  for (const family of families) {
    (family.type === 'histogram' ? snapshot.histograms : snapshot.counters).set(family.name, family.collect());
  }
  return snapshot;
}

const CSI = '\x1b[';

/**
 * The terminal while top owns it: alternate screen, hidden cursor, raw keys
 * (Ctrl-C arrives as a byte), and stderr held back (a log line would scroll
 * the screen) until leave() puts everything back and prints what was held.
 */
class Terminal {
  private held: string[] = [];
  private readonly stderrWrite = process.stderr.write.bind(process.stderr);
  private entered = false;

  get size(): { columns: number; rows: number } {
    return { columns: process.stdout.columns || 80, rows: process.stdout.rows || 24 };
  }

  enter(): void {
    process.stderr.write = (chunk: string | Uint8Array) => {
      this.held.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    };
    this.entered = true;
    process.stdin.setRawMode(true);
    process.stdin.setEncoding('utf8');
    process.stdout.write(`${CSI}?1049h${CSI}?25l`);
  }

  /** Each line at its row; the rest of a short line erased (not after a full one: the cursor sits on its last character). */
  draw(lines: string[]): void {
    const { columns } = this.size;
    process.stdout.write(lines.map((l, i) => `${CSI}${i + 1};1H${l}${l.length < columns ? `${CSI}K` : ''}`).join(''));
  }

  /** Puts the terminal back; safe to call twice. */
  leave(): void {
    if (!this.entered) return;
    this.entered = false;
    process.stdin.setRawMode(false);
    process.stdin.pause();
    process.stdout.write(`${CSI}?25h${CSI}?1049l`);
    process.stderr.write = this.stderrWrite;
    for (const text of this.held.splice(0)) process.stderr.write(text);
  }
}

const QUIT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** How a session ends: quit() (q, Ctrl-C, a signal, a terminal gone) or fail(error) (an error thrown anywhere). */
class Ending {
  readonly done: Promise<void>;
  private settle: (error?: Error) => void = () => {};

  constructor() {
    this.done = new Promise((resolve, reject) => {
      this.settle = (error) => (error === undefined ? resolve() : reject(error));
    });
    for (const signal of QUIT_SIGNALS) process.on(signal, this.quit);
    process.on('uncaughtException', this.fail);
    process.stdout.on('error', this.quit); // EIO: the terminal hung up
  }

  readonly quit = (): void => this.settle();
  readonly fail = (error: unknown): void => this.settle(error instanceof Error ? error : new Error(inspect(error)));

  /** `fn` with what it throws ending the session. */
  guard<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return (...args) => {
      try {
        fn(...args);
      } catch (error) {
        this.fail(error);
      }
    };
  }

  close(): void {
    for (const signal of QUIT_SIGNALS) process.off(signal, this.quit);
    process.off('uncaughtException', this.fail);
    process.stdout.off('error', this.quit);
  }
}

/** Redraws every interval, on a key and on a resize, until the session ends. */
async function live(agent: Agent, terminal: Terminal, intervalMs: number, ending: Ending): Promise<void> {
  let before = snapshotOf(agent.families());
  let beforeAt = performance.now();
  let views = topViews(before, before, intervalMs / 1000);
  const sorts = views.map((v) => v.sortBy);
  let shown = 0;
  let status = `kernscope top  collecting the first ${intervalMs / 1000} s`;
  const failed = agent.failed.map((f) => f.name);
  const notAttached = failed.length > 0 ? `  not attached: ${failed.join(', ')}` : '';
  const draw = (): void =>
    terminal.draw(
      renderTop({ views, view: shown, sort: sorts[shown], status: status + notAttached, ...terminal.size }),
    );

  const refresh = ending.guard(() => {
    const after = snapshotOf(agent.families());
    const now = performance.now();
    const seconds = (now - beforeAt) / 1000;
    views = topViews(before, after, seconds);
    [before, beforeAt] = [after, now];
    status = `kernscope top  ${new Date().toTimeString().slice(0, 8)}  the last ${seconds.toFixed(1)} s`;
    draw();
  });
  const onKeys = ending.guard((data: string) => {
    if (data === `${CSI}Z`) shown = (shown + views.length - 1) % views.length; // Shift-Tab
    if (data.startsWith('\x1b')) return draw(); // other escape sequences (arrows, function keys): no key of ours
    for (const key of data) {
      if (key === 'q' || key === 'Q' || key === '\x03') return ending.quit();
      if (key === '\t') shown = (shown + 1) % views.length;
      else if (key === 's') sorts[shown] = nextSort(views[shown].table, sorts[shown]);
      else if (key >= '1' && key <= String(views.length)) shown = Number(key) - 1;
    }
    draw();
  });
  const onResize = ending.guard(draw);
  const timer = setInterval(refresh, intervalMs);
  process.stdin.on('data', onKeys);
  process.stdout.on('resize', onResize);
  try {
    draw();
    await ending.done;
  } finally {
    clearInterval(timer);
    process.stdin.off('data', onKeys);
    process.stdout.off('resize', onResize);
  }
}

export async function topCommand(argv: string[]): Promise<number> {
  const invocation = parseTopOptions(argv);
  if (invocation === 'help') {
    process.stdout.write(TOP_HELP);
    return 0;
  }
  if (!process.stdin.isTTY || !process.stdout.isTTY) throw new UsageError(NOT_A_TERMINAL);
  const missing = missingKernelBtf() ?? missingBpfPrivileges();
  if (missing) throw new UsageError(missing, 1);

  const agent = new Agent(agentOptions(), new Logger('error'));
  const terminal = new Terminal();
  const ending = new Ending(); // from here on a signal ends the session (after start, which runs synchronously)
  try {
    terminal.enter();
    const { columns, rows } = terminal.size;
    terminal.draw(messageScreen(`loading probes (${TOP_PROBES.join(', ')})...`, columns, rows));
    agent.start();
    if (agent.running.length === 0) {
      throw new Error(`no probe attached: ${agent.failed.map((f) => `${f.name}: ${f.reason}`).join('; ')}`);
    }
    await live(agent, terminal, invocation.intervalMs, ending);
  } finally {
    ending.close();
    try {
      agent.stop();
    } finally {
      terminal.leave();
    }
  }
  return 0;
}
