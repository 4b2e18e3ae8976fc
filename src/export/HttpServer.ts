// /metrics, /healthz (process alive) and /readyz (probes attached and draining).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { parseListen } from '../config/AgentOptions';
import type { PrometheusExporter } from './PrometheusExporter';

export class HttpServer {
  private readonly server: http.Server;

  constructor(
    private readonly exporter: PrometheusExporter,
    private readonly isReady: () => boolean,
  ) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  /** Listens; rejects with a one-line reason (port in use, bad address). */
  start(listen: string): Promise<AddressInfo> {
    const { host, port } = parseListen(listen);
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void =>
        reject(new Error(`cannot listen on ${listen}: ${error.code ?? error.message}`));
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  shutdown(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (url === '/metrics') {
      try {
        const body = await this.exporter.metrics();
        res.writeHead(200, { 'content-type': this.exporter.contentType }).end(body);
      } catch (error) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`collect failed: ${String(error)}\n`);
      }
    } else if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (url === '/readyz') {
      const ready = this.isReady();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /healthz, /readyz\n');
    }
  }
}
