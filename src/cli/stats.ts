// `kernscope stats PROBE`: one probe's histograms and counters as text, every
// interval, the way runqlat, biolatency and syscount print theirs. The probe
// runs as the agent runs it (in-process, filters applied in the kernel), node
// wide (no attribution), with every log2 slot as a bucket of its own.
import { parseArgs } from 'node:util';

import { Agent } from '../agent/Agent';
import type { HistogramFamily, MetricFamily, ScalarFamily } from '../aggregate/MetricFamily';
import type { AgentOptions } from '../config/AgentOptions';
import { DEFAULT_OPTIONS } from '../config/AgentOptions';
import { OptionError, OptionErrors } from '../config/OptionError';
import { flagLayer, useProbeDirs } from '../config/loadConfig';
import { settingsHelp } from '../config/settingFlags';
import { everySlotBuckets, histogramsOf, optionalLabelsOf } from '../config/probeOptions';
import { missingKernelBtf } from '../kernel/hostSupport';
import { missingBpfPrivileges } from '../kernel/privileges';
import { Logger } from '../log';
import { allProbes, findProbe } from '../probes';
import type { ProbeDefinition } from '../probes/ProbeDefinition';
import { boundedHistogramText, counterText, labelsText, latencyHistogramText } from './histogramText';
import { optionsText } from './optionsText';
import { UsageError } from './UsageError';

/** Histogram tables per histogram and interval: the label sets that counted most. */
const TOP_HISTOGRAMS = 10;
/** Rows per counter and interval. */
const TOP_COUNTERS = 20;
const MAX_INTERVAL_S = 86400;

/** Probes with something to show: histograms or counters, from maps or ring records (user probes: always). */
const hasStats = (p: ProbeDefinition): boolean =>
  p.mapMetrics.length > 0 || p.recordMetrics.length > 0 || p.user !== undefined;
const probeNames = (): string =>
  allProbes()
    .filter(hasStats)
    .map((p) => p.name)
    .join(', ');
/** The agent's filters, which stats takes as flags too. */
const FILTERS = ['tgid', 'cgroup', 'comm'] as const;

export const STATS_HELP = `Usage: kernscope stats PROBE [--interval S] [--count N] [--pid TGID] [--cgroup PATH] [--comm NAME]

Loads one probe and prints, every interval, what changed in that interval:
the change since the previous print (like runqlat or biolatency with an
interval and without -c, not cumulative):
  - each histogram as a log2 table per label set (the ${TOP_HISTOGRAMS} that counted
    most), slot ranges in nsecs, usecs, msecs or secs, with the count and mean;
  - each counter: its value per label set, largest first (top ${TOP_COUNTERS});
    ring-record counters included (exec: execs by command name).
Node-wide: no namespace/pod/container labels; optional labels are on.
Runs until Ctrl-C or SIGTERM (or --count), then detaches everything.

Probes: ${probeNames()}, or a user probe of --probe-dir DIR

Options:
${optionsText([
  { usage: '--interval S', help: 'seconds between prints (default 1; fractions work: 0.5)' },
  { usage: '--count N', help: 'stop after N prints (default: until Ctrl-C)' },
  ...settingsHelp(FILTERS),
  ...settingsHelp(['probeDirs']),
  { usage: '-h, --help', help: 'this help' },
])}

Examples:
  kernscope stats runqueue                      run-queue latency every second (runqlat 1)
  kernscope stats blockio --interval 5          block I/O latency per disk and operation (biolatency -D -F 5)
  kernscope stats syscalls --pid 1234           one process's busiest syscalls, their latency and errors (syscount -L)
  kernscope stats runqueue --cgroup kubepods.slice --count 10
`;

export interface StatsInvocation {
  definition: ProbeDefinition;
  intervalMs: number;
  /** Prints before exiting; undefined: until a signal. */
  count?: number;
  filter: Pick<AgentOptions, (typeof FILTERS)[number]>;
}

export function parseStatsOptions(argv: string[]): StatsInvocation | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        interval: { type: 'string' },
        count: { type: 'string' },
        pid: { type: 'string' },
        cgroup: { type: 'string' },
        comm: { type: 'string' },
        'probe-dir': { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}; see kernscope stats --help`);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length !== 1) {
    throw new UsageError(`stats takes one probe, one of ${probeNames()} (see kernscope stats --help)`);
  }
  useProbeDirs({ 'probe-dir': values['probe-dir'] });
  const definition = findProbe(positionals[0]);
  if (!definition || !hasStats(definition)) {
    throw new UsageError(`no stats for probe '${positionals[0]}': expected one of ${probeNames()}`);
  }
  // The agent's own flags, checked as the agent checks them.
  const filters = flagLayer({ pid: values.pid, cgroup: values.cgroup, comm: values.comm });
  const errors = [...filters.problems.errors];
  const numberFlag = (flag: string, raw: string, pattern: RegExp, [min, max]: number[], accepted: string): number => {
    const value = Number(raw);
    if (!pattern.test(raw) || value < min || value > max) errors.push(new OptionError(flag, raw, accepted));
    return value;
  };
  const intervalS = numberFlag(
    '--interval',
    values.interval ?? '1',
    /^\d+(\.\d+)?$/,
    [0.001, MAX_INTERVAL_S],
    `seconds from 0.001 to ${MAX_INTERVAL_S} (1, 0.5, 10)`,
  );
  const count =
    values.count === undefined
      ? undefined
      : numberFlag('--count', values.count, /^\d+$/, [1, 2 ** 31], 'a positive integer');
  OptionErrors.throwIfAny(errors);
  return {
    definition,
    intervalMs: Math.round(intervalS * 1000),
    count,
    filter: filters.values as StatsInvocation['filter'],
  };
}

/** The agent's settings for `stats`: one probe, attribution off, every call timed, every log2 slot its own bucket. */
function agentOptions({ definition, filter }: StatsInvocation): AgentOptions {
  return {
    ...DEFAULT_OPTIONS,
    ...filter,
    probes: [definition.name],
    strict: true,
    attribution: false,
    syscallLatencyEvery: 1,
    seriesTtlMs: 0,
    probeOptions: {
      [definition.name]: {
        labels: optionalLabelsOf(definition),
        buckets: everySlotBuckets(definition),
      },
    },
  };
}

/** Turns cumulative series into the change since the previous read. */
class Since {
  private readonly previous = new Map<string, number[]>();

  change(family: string, labels: object, values: number[]): number[] {
    const key = `${family}${JSON.stringify(labels)}`;
    const before = this.previous.get(key);
    this.previous.set(key, values);
    return before ? values.map((v, i) => v - before[i]) : values;
  }
}

/**
 * A histogram's busiest label sets: a built-in probe's latency histogram as a
 * table of its slots in time units, a user probe's by its own bounds.
 */
function histogramTables(family: HistogramFamily, latency: boolean, since: Since): string {
  const changed = family.collect().map(({ labels, counts, sum, bounds }) => {
    const delta = since.change(family.name, labels, [...counts, sum]);
    const slots = delta.slice(0, -1);
    return { labels, slots, bounds, sum: delta[delta.length - 1], count: slots.reduce((a, b) => a + b, 0) };
  });
  const busiest = changed
    .filter((h) => h.count > 0)
    .sort((a, b) => b.count - a.count || labelsText(a.labels).localeCompare(labelsText(b.labels)))
    .slice(0, TOP_HISTOGRAMS);
  const text = (title: string, h?: (typeof changed)[number]): string =>
    (latency ? latencyHistogramText : boundedHistogramText)(title, {
      bounds: h?.bounds ?? [],
      counts: h?.slots ?? [],
      sum: h?.sum ?? 0,
    });
  if (busiest.length === 0) return text(family.name);
  return busiest.map((h) => text(`${family.name} ${labelsText(h.labels)}`.trim(), h)).join('\n');
}

function counterTable(family: ScalarFamily, since: Since): string {
  const rows = family
    .collect()
    .map(({ labels, value }) => ({ labels, value: since.change(family.name, labels, [value])[0] }));
  return counterText(family.name, rows, TOP_COUNTERS);
}

/** One interval: a time line, the histograms, then the counters. */
function intervalText(invocation: StatsInvocation, families: MetricFamily[], since: Since): string {
  const latency = new Set(histogramsOf(invocation.definition).map((h) => h.name));
  const tables = [
    ...families.flatMap((f) => (f.type === 'histogram' ? [histogramTables(f, latency.has(f.name), since)] : [])),
    ...families.flatMap((f) => (f.type === 'histogram' ? [] : [counterTable(f, since)])),
  ];
  const time = new Date().toTimeString().slice(0, 8);
  return `${time}  ${invocation.definition.name}, the last ${invocation.intervalMs / 1000} s\n\n${tables.join('\n')}\n`;
}

/** Calls `print` every `intervalMs` until `count` prints, a signal or a closed stdout; rejects when it throws. */
function everyInterval(intervalMs: number, count: number | undefined, print: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let printed = 0;
    const end = (error?: Error): void => {
      clearInterval(timer);
      process.off('SIGINT', stop).off('SIGTERM', stop);
      process.stdout.off('error', stop); // EPIPE: the reader (head, less) went away
      if (error === undefined) resolve();
      else reject(error);
    };
    const stop = (): void => end();
    const timer = setInterval(() => {
      try {
        print();
      } catch (error) {
        end(error as Error);
        return;
      }
      if (++printed === count) end();
    }, intervalMs);
    process.once('SIGINT', stop).once('SIGTERM', stop);
    process.stdout.once('error', stop);
  });
}

export async function statsCommand(argv: string[]): Promise<number> {
  const invocation = parseStatsOptions(argv); // bad settings throw: main prints one line each, exit 2
  if (invocation === 'help') {
    process.stdout.write(STATS_HELP);
    return 0;
  }
  const missing = missingKernelBtf() ?? missingBpfPrivileges();
  if (missing) throw new UsageError(missing, 1);

  const name = invocation.definition.name;
  process.stderr.write(`loading ${name}...\n`);
  const agent = new Agent(agentOptions(invocation), new Logger('warn'));
  agent.start(); // strict: attached, or thrown with nothing left loaded
  try {
    const [probe] = agent.running;
    const kinds = [...new Set(probe.loaded.chosen.map((c) => c.variant.kind))].join(', ');
    const { count, intervalMs } = invocation;
    const until = count === undefined ? 'until Ctrl-C' : `for ${count} interval${count === 1 ? '' : 's'}`;
    process.stderr.write(`${name} attached (${kinds}); printing every ${intervalMs / 1000} s ${until}\n`);
    const since = new Since();
    await everyInterval(invocation.intervalMs, invocation.count, () => {
      process.stdout.write(intervalText(invocation, probe.families, since));
    });
  } finally {
    agent.stop();
  }
  return 0;
}
