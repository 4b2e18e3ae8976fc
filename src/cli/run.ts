// `kernscope run`: the agent in the foreground until SIGINT/SIGTERM.
import { parseArgs } from 'node:util';

import { Agent } from '../agent/Agent';
import type { AgentOptions } from '../config/AgentOptions';
import { CONFIG_ENV, formatDuration, resolveOptions } from '../config/loadConfig';
import { HttpServer } from '../export/HttpServer';
import { OtlpExporter } from '../export/OtlpExporter';
import { PrometheusExporter } from '../export/PrometheusExporter';
import type { OtlpSettings } from '../config/otlpSettings';
import { otlpSettings } from '../config/otlpSettings';
import type { FlagHelp } from '../config/settingFlags';
import { SETTING_FLAGS, settingsHelp } from '../config/settingFlags';
import type { WebSettings } from '../config/webConfig';
import { webSettings } from '../config/webConfig';
import { buildInfo } from '../kernel/system';
import { dropCapabilities, keepsAll } from '../kernel/dropCapabilities';
import { missingKernelBtf } from '../kernel/hostSupport';
import { missingCapabilities } from '../kernel/privileges';
import { Logger } from '../log';
import { optionsText } from './optionsText';
import { UsageError } from './UsageError';

/** `run`'s own flags, besides one per setting. */
const COMMAND_FLAGS: FlagHelp[] = [
  {
    usage: '--config FILE',
    help: `YAML settings (see README: every key, per-probe filters, optional labels, buckets); also ${CONFIG_ENV}`,
  },
  { usage: '--check-config', help: 'validate the settings, print a summary, exit 0 (no root needed)' },
];

export const RUN_HELP = `Usage: kernscope run [options]

Loads the probes, serves /metrics, /healthz and /readyz, and runs until
SIGINT or SIGTERM, which detach everything and exit 0.

Options:
${optionsText([...COMMAND_FLAGS, ...settingsHelp(), { usage: '-h, --help', help: 'this help' }])}

Precedence: config file < KERNSCOPE_* environment variables < flags
(KERNSCOPE_LISTEN, KERNSCOPE_MAX_SERIES, ...: the flag's name in capitals).

Examples:
  kernscope run                                    the default probes, /metrics on :9478
  kernscope run --probes process,syscalls,tcp      add per-syscall counts and latency
  kernscope run --probes tcp,runqueue --listen 127.0.0.1:9478
  kernscope run --config /etc/kernscope.yaml --check-config
  kernscope run --otlp-endpoint http://otel-collector:4317 --node-name $(hostname)
`;

export interface RunInvocation {
  options: AgentOptions;
  /** --check-config: validate and summarise, do not run. */
  checkOnly: boolean;
  /** Where the settings came from (config file, environment variables, flags). */
  sources: string[];
  /** Present when an OTLP endpoint is set. */
  otlp?: OtlpSettings;
  /** Present when a web config file is set. */
  web?: WebSettings;
}

export function parseRunOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): RunInvocation | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        'check-config': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        ...SETTING_FLAGS,
      },
    }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}; see kernscope run --help`);
  }
  if (parsed.help) return 'help';
  const { options, sources } = resolveOptions(parsed, env);
  const web = options.webConfig === undefined ? undefined : webSettings(options.webConfig);
  return { options, checkOnly: parsed['check-config'] ?? false, sources, otlp: otlpSettings(options, env), web };
}

/** The --check-config line: what would run, with what, from where. */
export function configSummary({ options, sources, otlp, web }: RunInvocation): string {
  const probes = options.probes.map((name) => {
    const own = options.probeOptions[name] ?? {};
    const details = [
      own.tgid !== undefined && `pid=${own.tgid}`,
      own.cgroup !== undefined && `cgroup=${own.cgroup}`,
      own.comm !== undefined && `comm=${own.comm}`,
      own.labels?.length && `labels=${own.labels.join('+')}`,
      own.buckets && Object.keys(own.buckets).length && `buckets=${Object.keys(own.buckets).length}`,
    ].filter(Boolean);
    return details.length ? `${name}(${details.join(' ')})` : name;
  });
  const filters = [
    options.tgid !== undefined && `pid ${options.tgid}`,
    options.cgroup !== undefined && `cgroup ${options.cgroup}`,
    options.comm !== undefined && `comm ${options.comm}`,
    options.netns !== undefined && `netns ${options.netns}`,
  ].filter(Boolean);
  return [
    `config ok: probes ${probes.join(',')}`,
    `listen ${options.listen}`,
    ...(web ? [`web ${webSummary(web)}`] : []),
    ...(filters.length ? [`filter ${filters.join(' ')}`] : []),
    `max_series ${options.maxSeriesPerMetric}`,
    `series_ttl ${formatDuration(options.seriesTtlMs)}`,
    `histogram_schema ${options.histogramSchema}`,
    `ring_bytes ${options.ringBytes}`,
    `log_level ${options.logLevel}`,
    ...(otlp
      ? [`otlp ${otlp.endpoint} every ${formatDuration(otlp.intervalMs)} ${otlp.temporality} ${otlp.histograms}`]
      : []),
    `from ${sources.length ? sources.join(', ') : 'defaults'}`,
  ].join('; ');
}

function webSummary({ tls, users }: WebSettings): string {
  const scheme = tls ? `https (${tls.minVersion}-${tls.maxVersion}, ${tls.clientAuth})` : 'http';
  return users.size ? `${scheme}, basic_auth_users ${users.size}` : scheme;
}

const SHUTDOWN_DEADLINE_MS = 5000;
/** The last OTLP export gets this much of the shutdown deadline. */
const OTLP_FLUSH_DEADLINE_MS = 2000;

export async function runCommand(argv: string[]): Promise<number> {
  const invocation = parseRunOptions(argv); // bad settings throw: main prints one line each, exit 2
  if (invocation === 'help') {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  if (invocation.checkOnly) {
    process.stdout.write(`${configSummary(invocation)}\n`);
    return 0;
  }
  const { options } = invocation;
  const missing = missingKernelBtf() ?? missingCapabilities(options);
  if (missing) throw new UsageError(missing, 1);

  const log = new Logger(options.logLevel);
  const agent = new Agent(options, log);
  agent.start();
  const otlp = invocation.otlp && new OtlpExporter(invocation.otlp, log);
  const families = [...agent.families(), ...(otlp ? [otlp.exportsFamily] : [])];
  const server = new HttpServer(new PrometheusExporter(families), () => agent.isReady(), invocation.web);
  let address;
  try {
    address = await server.start(options.listen);
  } catch (error) {
    agent.stop();
    throw new UsageError((error as Error).message, 1);
  }
  // Once attached and listening (a port below 1024 needs a capability), only what is still needed stays.
  if (!keepsAll(options.capabilitiesKeep)) {
    try {
      const { kept, threads } = dropCapabilities(options.capabilitiesKeep);
      log.info('capabilities dropped', { kept: kept.map((c) => `CAP_${c}`).join(',') || 'none', threads });
    } catch (error) {
      agent.stop();
      await server.shutdown();
      throw new UsageError((error as Error).message, 1);
    }
  }
  otlp?.start(families, buildInfo().version, (labels) => agent.otelAttributes(labels));
  log.info('kernscope running', {
    listen: `${invocation.web?.tls ? 'https' : 'http'}://${address.address}:${address.port}`,
    probes: agent.running.map((p) => p.loaded.definition.name).join(','),
  });

  return new Promise((resolve) => {
    const shutdown = (signal: string): void => {
      log.info('stopping', { signal });
      // Whatever happens below, never outlive the deadline.
      setTimeout(() => process.exit(1), SHUTDOWN_DEADLINE_MS).unref();
      // No scrape may read probes being closed: the endpoint goes first. The
      // last export reads the probes' maps: before they are closed.
      void server
        .shutdown()
        .then(() => (otlp ? otlp.shutdown(OTLP_FLUSH_DEADLINE_MS) : undefined))
        .then(() => agent.stop())
        .then(() => resolve(0));
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });
}
