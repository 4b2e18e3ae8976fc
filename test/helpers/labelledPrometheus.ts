// A real Prometheus (Debian package `prometheus`) scraping one target whose
// static config adds target labels (a `node` label, as a Kubernetes
// ServiceMonitor's relabelling would), with the parts of the HTTP API a
// Grafana dashboard uses: instant queries and label values. PrometheusServer
// (prometheus.ts) writes its own config without target labels, hence this one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { freePort, httpGet } from './net';
import { spawnClean, waitExit } from './process';
import { PROMETHEUS } from './prometheus';
import type { HasTeardown } from './teardown';
import { sleep, waitFor } from './teardown';

export interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

interface ApiResponse<T> {
  status: string;
  error?: string;
  data?: T;
}

const JOB = 'kernscope';

export class LabelledPrometheus {
  private output = '';

  private constructor(
    readonly port: number,
    private readonly child: ReturnType<typeof spawnClean>,
  ) {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
  }

  /**
   * Starts Prometheus scraping `target` (host:port) every second as job
   * "kernscope" with `labels` on the target, into a fresh temporary TSDB;
   * waits for /-/ready. Stopped and its directory removed at teardown.
   */
  static async start(t: HasTeardown, target: string, labels: Record<string, string>): Promise<LabelledPrometheus> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kernscope-prometheus-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const config = path.join(dir, 'prometheus.yml');
    // YAML accepts JSON flow style, so JSON.stringify quotes the values safely.
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        `  - job_name: ${JOB}`,
        '    static_configs:',
        `      - targets: [${JSON.stringify(target)}]`,
        `        labels: ${JSON.stringify(labels)}`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    const child = spawnClean(PROMETHEUS, [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ]);
    const server = new LabelledPrometheus(port, child);
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

  /** An instant query at `time` (Unix seconds); the result vector. */
  async query(expr: string, time: number): Promise<VectorSample[]> {
    const params = new URLSearchParams({ query: expr, time: time.toFixed(3) });
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

  /** Waits for a successful scrape that started after `afterMs` (Unix ms); returns its time in seconds. */
  async scrapeAfter(afterMs: number, timeoutMs = 10000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [last] = await this.query(`timestamp(up{job="${JOB}"} == 1)`, Date.now() / 1000);
      if (last && Number(last.value[1]) * 1000 > afterMs) return Number(last.value[1]);
      if (Date.now() > deadline) {
        throw new Error(`no scrape after ${new Date(afterMs).toISOString()}:\n${this.output}`);
      }
      await sleep(100);
    }
  }
}
