// /metrics, /healthz (process alive) and /readyz (probes attached and
// draining), and nothing else: GET and HEAD only, optionally over TLS and
// behind basic auth (web config). Every client is bounded in memory and time
// (the limits below), so slow, oversized or numerous clients cost the agent a
// bounded amount and never hold up the ring drain on the same thread.
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';

import { parseListen } from '../config/listenAddress';
import type { TlsSettings, WebSettings } from '../config/webConfig';
import { BasicAuth } from './BasicAuth';
import { ConnectionLimiter } from './ConnectionLimiter';
import type { ExpositionFormat } from './expositionFormat';
import { expositionFormat } from './expositionFormat';
import type { Exposition, PrometheusExporter } from './PrometheusExporter';

/** A scrape's request headers are a few hundred bytes; 8 KiB leaves room for proxies and caps what a request can make us hold. */
export const MAX_HEADER_BYTES = 8 * 1024;
/** Headers arrive in one packet from a real client; 5 s covers a lossy link, and cuts off a slowloris client. */
export const HEADERS_TIMEOUT_MS = 5000;
/** The whole request, body included (which is never read, only discarded): a slow body is cut off too. */
export const REQUEST_TIMEOUT_MS = 10000;
/** Below Prometheus' usual scrape interval, so an idle scraper does not hold a connection between scrapes. */
export const KEEP_ALIVE_TIMEOUT_MS = 5000;
/** A response nobody reads: its connection (and the buffered body) goes after this long without progress. */
export const IDLE_SOCKET_TIMEOUT_MS = 30000;
/** How often the header and request timeouts are enforced (Node's default, 30 s, would triple them). */
const TIMEOUT_CHECK_INTERVAL_MS = 1000;
/**
 * Connections in all, and from one source address: past either, the oldest
 * one doing nothing useful gives way (ConnectionLimiter), so slow clients
 * cannot keep a scraper out. Each costs at most about MAX_HEADER_BYTES of
 * parser buffer plus a socket (and a TLS session): README states the total.
 */
export const MAX_CONNECTIONS = 1024;
/**
 * Connections the kernel queues before the agent accepts them (capped by
 * net.core.somaxconn). Node's 511 overflowed under a flood of reconnecting
 * clients (401 listen drops in one run of test/export/slowClients.test.ts,
 * none at 4096), and a dropped SYN costs the scraper a 1 s retransmit: a
 * whole scrape timeout.
 */
const LISTEN_BACKLOG = 4096;
export const MAX_CONNECTIONS_PER_SOURCE = 64;

const TEXT = { 'content-type': 'text/plain' };

function tlsOptions(tls: TlsSettings): https.ServerOptions {
  const verify = tls.clientAuth === 'RequireAndVerifyClientCert';
  return {
    cert: tls.cert,
    key: tls.key,
    ca: tls.clientCa,
    requestCert: verify,
    rejectUnauthorized: verify,
    minVersion: tls.minVersion,
    maxVersion: tls.maxVersion,
    // A TCP connection that never completes its handshake holds a slot like a slow header.
    handshakeTimeout: HEADERS_TIMEOUT_MS,
  };
}

export class HttpServer {
  private readonly server: http.Server;
  private readonly auth?: BasicAuth;
  /** The /metrics renders in progress, by format: concurrent scrapes share one instead of rendering once each. */
  private readonly rendering = new Map<ExpositionFormat, Promise<Exposition>>();
  readonly connections = new ConnectionLimiter({ total: MAX_CONNECTIONS, perSource: MAX_CONNECTIONS_PER_SOURCE });

  constructor(
    private readonly exporter: PrometheusExporter,
    private readonly isReady: () => boolean,
    web: WebSettings = { users: new Map() },
  ) {
    const limits: http.ServerOptions = {
      maxHeaderSize: MAX_HEADER_BYTES,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    };
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => void this.handle(req, res);
    this.server = web.tls
      ? https.createServer({ ...limits, ...tlsOptions(web.tls) }, handler)
      : http.createServer(limits, handler);
    this.server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    this.server.timeout = IDLE_SOCKET_TIMEOUT_MS;
    // The TCP connection, before any TLS handshake: a handshake that never ends is a slow client too.
    this.server.on('connection', (socket: net.Socket) => this.connections.admit(socket));
    if (web.users.size > 0) this.auth = new BasicAuth(web.users);
  }

  /** Listens; rejects with a one-line reason (port in use, bad address). */
  start(listen: string): Promise<AddressInfo> {
    const { host, port } = parseListen(listen);
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void =>
        reject(new Error(`cannot listen on ${listen}: ${error.code ?? error.message}`));
      this.server.once('error', onError);
      this.server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  async shutdown(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    await this.auth?.close();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.connections.requestStarted(req.socket);
    res.once('close', () => this.connections.requestEnded(req.socket));
    // Authentication first, as the exporter-toolkit does: a stranger learns nothing, not even which paths exist.
    const auth = this.auth && (await this.auth.check(req.headers.authorization));
    if (auth === 'denied') {
      res.writeHead(401, { ...TEXT, 'www-authenticate': 'Basic' }).end('unauthorized\n');
      return;
    }
    if (auth === 'busy') {
      res.writeHead(503, { ...TEXT, 'retry-after': '1' }).end('too many logins waiting; retry\n');
      return;
    }
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...TEXT, allow: 'GET, HEAD' }).end('method not allowed: GET or HEAD\n');
    } else if (url === '/metrics') {
      // The body depends on the Accept header: a cache between us and the scraper must know.
      const vary = { vary: 'Accept' };
      const format = expositionFormat(req.headers.accept);
      try {
        const { contentType, body } = await this.metrics(format);
        res.writeHead(200, { 'content-type': contentType, ...vary }).end(body);
      } catch (error) {
        res.writeHead(500, { ...TEXT, ...vary }).end(`collect failed: ${String(error)}\n`);
      }
    } else if (url === '/healthz') {
      res.writeHead(200, TEXT).end('ok\n');
    } else if (url === '/readyz') {
      const ready = this.isReady();
      res.writeHead(ready ? 200 : 503, TEXT).end(ready ? 'ready\n' : 'not ready\n');
    } else {
      res.writeHead(404, TEXT).end('not found: try /metrics, /healthz, /readyz\n');
    }
  }

  private metrics(format: ExpositionFormat): Promise<Exposition> {
    let rendering = this.rendering.get(format);
    if (!rendering) {
      rendering = this.exporter.render(format).finally(() => this.rendering.delete(format));
      this.rendering.set(format, rendering);
    }
    return rendering;
  }
}
