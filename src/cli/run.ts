// `kernscope run`: the agent in the foreground until SIGINT/SIGTERM.
import { parseArgs } from 'node:util';

import { Agent } from '../agent/Agent';
import type { AgentOptions } from '../config/AgentOptions';
import { DEFAULT_OPTIONS, OptionError, validateOptions } from '../config/AgentOptions';
import { HttpServer } from '../export/HttpServer';
import { PrometheusExporter } from '../export/PrometheusExporter';
import { missingBpfPrivileges } from '../kernel/privileges';
import type { LogLevel } from '../log';
import { Logger } from '../log';
import { UsageError } from './UsageError';

export const RUN_HELP = `Usage: kernscope run [options]

Loads the probes, serves /metrics, /healthz and /readyz, and runs until
SIGINT or SIGTERM, which detach everything and exit 0.

Options:
  --listen ADDR            HTTP address (default ${DEFAULT_OPTIONS.listen}; e.g. 127.0.0.1:9478)
  --probes LIST            comma-separated probes (default: all; see kernscope probes)
  --strict                 exit non-zero when any probe cannot attach
  --pid TGID               only events of this process
  --cgroup PATH            only events of this cgroup v2 directory and below
  --ring-bytes N           ring buffer bytes per probe (default ${DEFAULT_OPTIONS.ringBytes})
  --wakeup-bytes N         wake the reader once N bytes wait (default ${DEFAULT_OPTIONS.wakeupBytes})
  --drain-interval-ms N    timed drain period, the latency bound (default ${DEFAULT_OPTIONS.drainIntervalMs})
  --max-series N           series per metric before __overflow__ (default ${DEFAULT_OPTIONS.maxSeriesPerMetric})
  --bpf-stats              export BPF program run counts and time (BPF_ENABLE_STATS)
  --log-level LEVEL        debug, info, warn or error (default info)
  -h, --help               this help
`;

function integer(key: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new OptionError(key, value, 'a non-negative integer');
  return Number(value);
}

export function parseRunOptions(argv: string[]): AgentOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        listen: { type: 'string' },
        probes: { type: 'string' },
        strict: { type: 'boolean' },
        pid: { type: 'string' },
        cgroup: { type: 'string' },
        'ring-bytes': { type: 'string' },
        'wakeup-bytes': { type: 'string' },
        'drain-interval-ms': { type: 'string' },
        'max-series': { type: 'string' },
        'bpf-stats': { type: 'boolean' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}; see kernscope run --help`);
  }
  if (parsed.help) return 'help';
  const level = parsed['log-level'] ?? DEFAULT_OPTIONS.logLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(level)) {
    throw new OptionError('--log-level', level, 'debug, info, warn or error');
  }
  const ringBytes = integer('--ring-bytes', parsed['ring-bytes']) ?? DEFAULT_OPTIONS.ringBytes;
  return validateOptions({
    listen: parsed.listen ?? DEFAULT_OPTIONS.listen,
    probes: parsed.probes?.split(',').map((p) => p.trim()) ?? DEFAULT_OPTIONS.probes,
    strict: parsed.strict ?? false,
    tgid: integer('--pid', parsed.pid),
    cgroup: parsed.cgroup,
    ringBytes,
    wakeupBytes:
      integer('--wakeup-bytes', parsed['wakeup-bytes']) ?? Math.min(DEFAULT_OPTIONS.wakeupBytes, ringBytes / 4),
    drainIntervalMs: integer('--drain-interval-ms', parsed['drain-interval-ms']) ?? DEFAULT_OPTIONS.drainIntervalMs,
    maxSeriesPerMetric: integer('--max-series', parsed['max-series']) ?? DEFAULT_OPTIONS.maxSeriesPerMetric,
    bpfStats: parsed['bpf-stats'] ?? false,
    logLevel: level as LogLevel,
  });
}

const SHUTDOWN_DEADLINE_MS = 5000;

export async function runCommand(argv: string[]): Promise<number> {
  const options = parseRunOptions(argv);
  if (options === 'help') {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  const missing = missingBpfPrivileges();
  if (missing) throw new UsageError(missing, 1);

  const log = new Logger(options.logLevel);
  const agent = new Agent(options, log);
  agent.start();
  const server = new HttpServer(new PrometheusExporter(agent.families()), () => agent.isReady());
  let address;
  try {
    address = await server.start(options.listen);
  } catch (error) {
    agent.stop();
    throw new UsageError((error as Error).message, 1);
  }
  log.info('kernscope running', {
    listen: `${address.address}:${address.port}`,
    probes: agent.running.map((p) => p.loaded.definition.name).join(','),
  });

  return new Promise((resolve) => {
    const shutdown = (signal: string): void => {
      log.info('stopping', { signal });
      // Whatever happens below, never outlive the deadline.
      setTimeout(() => process.exit(1), SHUTDOWN_DEADLINE_MS).unref();
      agent.stop();
      void server.shutdown().then(() => resolve(0));
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });
}
