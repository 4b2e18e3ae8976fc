// A real Prometheus server (Debian package `prometheus`) on loopback, scraping
// given targets every second into a throw-away TSDB, and its HTTP query API.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { freePort, httpGet } from './net';
import { spawnClean, waitExit } from './process';
import type { HasTeardown } from './teardown';
import { sleep, waitFor } from './teardown';

export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMTOOL = '/usr/bin/promtool';

interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

interface QueryResponse {
  status: string;
  error?: string;
  data?: { resultType: string; result: VectorSample[] };
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
   * Starts Prometheus scraping `targets` (host:port) as job `job` every
   * `intervalSeconds`, storing into a fresh temporary directory; waits for
   * /-/ready. Stopped (SIGTERM, then SIGKILL) and its directory removed at teardown.
   */
  static async start(
    t: HasTeardown,
    targets: string[],
    job = 'kernscope',
    intervalSeconds = 1,
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
        '    static_configs:',
        `      - targets: [${targets.map((target) => JSON.stringify(target)).join(', ')}]`,
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

  /** An instant query (at `time`, Unix seconds, when given); the result vector. */
  async query(expr: string, time?: number): Promise<VectorSample[]> {
    const params = new URLSearchParams({ query: expr });
    if (time !== undefined) params.set('time', time.toFixed(3));
    const { status, body } = await httpGet(this.port, `/api/v1/query?${params.toString()}`, 5000);
    const response = JSON.parse(body) as QueryResponse;
    if (status !== 200 || response.status !== 'success' || !response.data) {
      throw new Error(`query ${expr} failed (${status}): ${response.error ?? body}`);
    }
    if (response.data.resultType !== 'vector') throw new Error(`query ${expr} returned a ${response.data.resultType}`);
    return response.data.result;
  }

  /** The single value of an instant query, or undefined for an empty result. */
  async value(expr: string, time?: number): Promise<number | undefined> {
    const result = await this.query(expr, time);
    if (result.length > 1) throw new Error(`query ${expr} returned ${result.length} series`);
    return result[0] ? Number(result[0].value[1]) : undefined;
  }

  /** Unix time (seconds, ms precision) of the latest successful scrape of the job, if any. */
  async lastScrape(): Promise<number | undefined> {
    return this.value(`timestamp(up{job="${this.job}"} == 1)`);
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
