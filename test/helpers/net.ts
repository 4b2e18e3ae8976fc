// Free TCP ports and small HTTP(S) requests against a local agent.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

import type { HasTeardown } from './teardown';

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface HttpResult {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** How to reach a server that has a web config: TLS, a client certificate, basic auth. */
export interface HttpClient {
  /** https, trusting this CA (a self-signed server certificate); plain http without it. */
  ca?: Buffer;
  /** A client certificate and its key (client_auth_type RequireAndVerifyClientCert). */
  cert?: Buffer;
  key?: Buffer;
  /** `user:password` for basic auth. */
  auth?: string;
}

export interface HttpRequest {
  method?: string;
  path: string;
  headers?: http.OutgoingHttpHeaders;
  timeoutMs?: number;
  client?: HttpClient;
}

/** A request to 127.0.0.1:port on a fresh connection; rejects on connection errors and after `timeoutMs`. */
export function httpRequest(
  port: number,
  { method = 'GET', path, headers, timeoutMs = 2000, client = {} }: HttpRequest,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const { ca, cert, key, auth } = client;
    const options = { host: '127.0.0.1', port, method, path, headers, auth, timeout: timeoutMs, agent: false };
    const onResponse = (res: http.IncomingMessage): void => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    };
    const req = ca ? https.request({ ...options, ca, cert, key }, onResponse) : http.request(options, onResponse);
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** GET http://127.0.0.1:port/path (https with `client.ca`); rejects on connection errors and after `timeoutMs`. */
export function httpGet(port: number, path: string, timeoutMs = 2000, client?: HttpClient): Promise<HttpResult> {
  return httpRequest(port, { path, timeoutMs, client });
}

/** A TCP connection to 127.0.0.1:port that keeps what it receives and notes when the server closes it. */
export class RawConnection {
  received = '';
  /** Date.now() when the connection closed, if it has. */
  closedAt?: number;
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8').on('data', (chunk: string) => (this.received += chunk));
    socket.on('error', () => undefined); // a reset by the server is a close like any other here
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedAt = Date.now();
        resolve();
      }),
    );
  }

  /** Connects (from `localAddress`, e.g. 127.0.0.7, when given; rejects when refused); destroyed at teardown. */
  static open(t: HasTeardown, port: number, localAddress?: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port, localAddress });
      t.teardown(() => socket.destroy());
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
    });
  }

  get isClosed(): boolean {
    return this.closedAt !== undefined;
  }

  write(text: string): void {
    if (!this.isClosed) this.socket.write(text);
  }
}
