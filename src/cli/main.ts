#!/usr/bin/env node
// The kernscope command: `run` (the agent), `probes` (what this kernel supports),
// `stats` (a probe's histograms and counters as text), `trace` (events as they
// happen), `top` (a live view). Each command is loaded when it is run: `trace`
// need not load the Kubernetes and OpenTelemetry clients that `run` uses.
import { preferSmallHeapAfterStartUp } from '../agent/heapPolicy';
import { problemLines } from '../config/OptionError';
import { unsupportedHost } from '../kernel/hostSupport';
import { UsageError } from './UsageError';

const HELP = `Usage: kernscope <command> [options]

Commands:
  run       run the agent: probes -> /metrics on :9478
  probes    list the probes and whether this kernel supports each
  stats     one probe's histograms and counters as text, every interval
  trace     stream a probe's events as they happen (kernscope trace exec)
  top       a full-screen live view: containers by syscalls, execs, TCP, latency

Run 'kernscope <command> --help' for a command's options.
`;

async function main(argv: string[]): Promise<number> {
  const unsupported = unsupportedHost();
  if (unsupported) throw new UsageError(unsupported, 1);
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return (await import('./run')).runCommand(rest);
    case 'probes':
      return (await import('./probes')).probesCommand(rest);
    case 'stats':
      return (await import('./stats')).statsCommand(rest);
    case 'trace':
      return (await import('./trace')).traceCommand(rest);
    case 'top':
      return (await import('./top')).topCommand(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(HELP);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(
        `unknown command '${command}': expected run, probes, stats, trace or top (see kernscope --help)`,
      );
  }
}

preferSmallHeapAfterStartUp();
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`kernscope: ${error.message}\n`);
      process.exit(error.exitCode);
    }
    // Bad settings: one line each, the first SHOWN_PROBLEMS and a count of the rest.
    const bad = problemLines(error);
    if (bad.length) {
      process.stderr.write(bad.map((line) => `kernscope: ${line}\n`).join(''));
      process.exit(2);
    }
    process.stderr.write(`kernscope: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
