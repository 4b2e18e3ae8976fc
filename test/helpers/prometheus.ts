// A real Prometheus server (Debian package `prometheus`) on loopback, scraping
// given targets every second into a throw-away TSDB (optionally with target
// labels, as a ServiceMonitor's relabelling adds `node`), and the parts of its
// HTTP API the tests and a Grafana dashboard use: instant queries, label
// values and series.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { freePort, httpGet } from './net';
import { spawnClean, waitExit } from './process';
import type { HasTeardown } from './teardown';
import { sleep, waitFor } from './teardown';

export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMTOOL = '/usr/bin/promtool';

export interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
  /** A native histogram's sample carries this instead of `value`. */
  histogram?: [number, { count: string; sum: string }];
}

interface ApiResponse<T> {
  status: string;
  error?: string;
  data?: T;
}

export interface PrometheusOptions {
  job?: string;
  intervalSeconds?: number;
  /** Labels added to every target (static_configs labels). */
  labels?: Record<string, string>;
  /** Scrape over https, trusting this CA file (a kernscope web config's tls_server_config). */
  caFile?: string;
  /** Scrape with basic auth (a kernscope web config's basic_auth_users). */
  basicAuth?: { username: string; password: string };
  /** Feature flags (--enable-feature), e.g. native-histograms. */
  features?: string[];
}

export class PrometheusServer {
  private output = '';

  private constructor(
    readonly port: number,
    readonly job: string,
    private readonly child: ReturnType<typeof spawnClean>,
  ) {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
  }

  /**
   * Starts Prometheus scraping `targets` (host:port) as job `job` (default
   * kernscope) every `intervalSeconds` (default 1), with `labels` on the
   * targets, over https and with basic auth when asked, storing into a
   * fresh temporary directory; waits for /-/ready.
   * Stopped (SIGTERM, then SIGKILL) and its directory removed at teardown.
   */
  static async start(
    t: HasTeardown,
    targets: string[],
    { job = 'kernscope', intervalSeconds = 1, labels, caFile, basicAuth, features = [] }: PrometheusOptions = {},
  ): Promise<PrometheusServer> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kernscope-prometheus-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const config = path.join(dir, 'prometheus.yml');
    const interval = `${intervalSeconds}s`;
    writeFileSync(
      config,
      [
        'global:',
        `  scrape_interval: ${interval}`,
        `  scrape_timeout: ${interval}`,
        `  evaluation_interval: ${interval}`,
        'scrape_configs:',
        `  - job_name: ${job}`,
        ...(caFile ? ['    scheme: https', '    tls_config:', `      ca_file: ${JSON.stringify(caFile)}`] : []),
        ...(basicAuth
          ? [
              '    basic_auth:',
              `      username: ${JSON.stringify(basicAuth.username)}`,
              `      password: ${JSON.stringify(basicAuth.password)}`,
            ]
          : []),
        '    static_configs:',
        `      - targets: [${targets.map((target) => JSON.stringify(target)).join(', ')}]`,
        // YAML accepts JSON flow style, so JSON.stringify quotes the values safely.
        ...(labels ? [`        labels: ${JSON.stringify(labels)}`] : []),
        '',
      ].join('\n'),
    );
    const port = await freePort();
    const child = spawnClean(PROMETHEUS, [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      ...features.map((feature) => `--enable-feature=${feature}`),
    ]);
    const server = new PrometheusServer(port, job, child);
    t.teardown(() => server.stop());
    await waitFor(
      `prometheus /-/ready on port ${port}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${server.output}`);
        try {
          return (await httpGet(port, '/-/ready', 1000)).status === 200 ? true : undefined;
        } catch {
          return undefined;
        }
      },
      { timeoutMs: 20000, intervalMs: 100 },
    );
    return server;
  }

  /** What Prometheus logged so far. */
  get log(): string {
    return this.output;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = waitExit(this.child, 5000);
    this.child.kill('SIGTERM');
    if ((await exited) === 'timeout') {
      const killed = waitExit(this.child, 5000);
      this.child.kill('SIGKILL');
      await killed;
    }
  }

  private async get<T>(what: string, endpoint: string, params: URLSearchParams): Promise<T> {
    const { status, body } = await httpGet(this.port, `${endpoint}?${params.toString()}`, 10000);
    const response = JSON.parse(body) as ApiResponse<T>;
    if (status !== 200 || response.status !== 'success' || response.data === undefined) {
      throw new Error(`${what} failed (${status}): ${response.error ?? body}`);
    }
    return response.data;
  }

  /** An instant query (at `time`, Unix seconds, when given); the result vector. */
  async query(expr: string, time?: number): Promise<VectorSample[]> {
    const params = new URLSearchParams({ query: expr });
    if (time !== undefined) params.set('time', time.toFixed(3));
    const data = await this.get<{ resultType: string; result: VectorSample[] }>(
      `query ${expr}`,
      '/api/v1/query',
      params,
    );
    if (data.resultType !== 'vector') throw new Error(`query ${expr} returned a ${data.resultType}`);
    return data.result;
  }

  /** Values of `label` on the series `match` selects between `start` and `end` (Unix seconds), as Grafana asks. */
  labelValues(label: string, match: string | undefined, start: number, end: number): Promise<string[]> {
    const params = new URLSearchParams({ start: start.toFixed(3), end: end.toFixed(3) });
    if (match !== undefined) params.append('match[]', match);
    return this.get(
      `label values of ${label} for ${match}`,
      `/api/v1/label/${encodeURIComponent(label)}/values`,
      params,
    );
  }

  /** Label sets of the series `match` selects between `start` and `end`. */
  series(match: string, start: number, end: number): Promise<Record<string, string>[]> {
    const params = new URLSearchParams({ 'match[]': match, start: start.toFixed(3), end: end.toFixed(3) });
    return this.get(`series ${match}`, '/api/v1/series', params);
  }

  /** The single value of an instant query, or undefined for an empty result. */
  async value(expr: string, time?: number): Promise<number | undefined> {
    const result = await this.query(expr, time);
    if (result.length > 1) throw new Error(`query ${expr} returned ${result.length} series`);
    return result[0] ? Number(result[0].value[1]) : undefined;
  }

  /**
   * Unix time (seconds, ms precision) of the latest successful scrape of the
   * job, if any. timestamp() must see `up` itself: applied to an expression's
   * result (`up == 1`) it gives the evaluation time, not the scrape's.
   */
  async lastScrape(): Promise<number | undefined> {
    const up = `up{job="${this.job}"}`;
    return this.value(`timestamp(${up}) and on(instance) ${up} == 1`);
  }

  /** Waits for a successful scrape that started after `afterMs` (Unix ms); returns its time in seconds. */
  async scrapeAfter(afterMs: number, timeoutMs = 10000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const last = await this.lastScrape();
      if (last !== undefined && last * 1000 > afterMs) return last;
      if (Date.now() > deadline) {
        throw new Error(`no scrape of ${this.job} after ${new Date(afterMs).toISOString()}:\n${this.output}`);
      }
      await sleep(100);
    }
  }
}
