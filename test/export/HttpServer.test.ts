// The HTTP endpoint on real sockets, in this process: only /metrics, /healthz
// and /readyz, only GET and HEAD, request bodies never waited for, the limits
// that bound a slow, idle or oversized client, and the exposition the Accept
// header asks for.
import http from 'node:http';

import t from 'tap';

import { ComputedFamily } from '../../src/aggregate/MetricFamily';
import type { ExpositionFormat } from '../../src/export/expositionFormat';
import { HEADERS_TIMEOUT_MS, HttpServer, KEEP_ALIVE_TIMEOUT_MS, MAX_HEADER_BYTES } from '../../src/export/HttpServer';
import type { Exposition } from '../../src/export/PrometheusExporter';
import { PrometheusExporter } from '../../src/export/PrometheusExporter';
import { PROTOBUF_CONTENT_TYPE } from '../../src/export/protobufExposition';
import type { HasTeardown } from '../helpers/teardown';
import { sleep } from '../helpers/teardown';
import { RawConnection, httpRequest } from '../helpers/net';
import { decodeFamilies } from './metricsProto';
import { PROMETHEUS_242_ACCEPT, PROMETHEUS_242_NATIVE_ACCEPT } from './scrapeAccept';

/** How late a timeout may be enforced: the server checks every second, and this machine is shared. */
const SLACK_MS = 2500;

async function startServer(t: HasTeardown, exporter = new PrometheusExporter([])): Promise<number> {
  const server = new HttpServer(exporter, () => true);
  t.teardown(() => server.shutdown());
  return (await server.start('127.0.0.1:0')).port;
}

void t.test('the three endpoints answer GET and HEAD', async (t) => {
  const port = await startServer(t);
  const metrics = await httpRequest(port, { path: '/metrics' });
  t.equal(metrics.status, 200, 'GET /metrics');
  t.match(metrics.headers['content-type'], /^text\/plain; version=0\.0\.4/, 'exposition content type');
  t.match(metrics.body, /^process_cpu_user_seconds_total /m, 'a metric in the body');
  const head = await httpRequest(port, { method: 'HEAD', path: '/metrics' });
  t.same([head.status, head.body], [200, ''], 'HEAD /metrics: status, no body');
  t.same(
    [(await httpRequest(port, { path: '/healthz' })).body, (await httpRequest(port, { path: '/readyz' })).body],
    ['ok\n', 'ready\n'],
    '/healthz and /readyz',
  );
  t.equal((await httpRequest(port, { path: '/metrics?x=1' })).status, 200, 'a query string is ignored');
});

void t.test('every other path is 404, every other method 405 with Allow', async (t) => {
  const port = await startServer(t);
  for (const path of ['/', '/metrics/', '/Metrics', '/debug/pprof/', '/api/v1/query', '/../etc/passwd', '/healthz/x']) {
    t.equal((await httpRequest(port, { path })).status, 404, `GET ${path}`);
  }
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'PATCH']) {
    for (const path of ['/metrics', '/healthz', '/nowhere']) {
      const { status, headers } = await httpRequest(port, { method, path });
      t.same([status, headers.allow], [405, 'GET, HEAD'], `${method} ${path}`);
    }
  }
});

void t.test('a request body is not waited for', async (t) => {
  const port = await startServer(t);
  const client = await RawConnection.open(t, port);
  // A gigabyte announced, none of it sent: the answer cannot depend on reading it.
  client.write('POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000000000\r\n\r\n');
  const deadline = Date.now() + 5000;
  while (!client.received.includes('\r\n\r\n') && Date.now() < deadline) await sleep(20);
  t.match(client.received, /^HTTP\/1\.1 405 /, '405 before any of the body');
});

void t.test('a client sending its headers a byte a second is cut off at the headers timeout', async (t) => {
  const port = await startServer(t);
  const client = await RawConnection.open(t, port);
  const start = Date.now();
  client.write('GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ');
  while (!client.isClosed && Date.now() - start < HEADERS_TIMEOUT_MS + SLACK_MS) {
    client.write('a');
    await sleep(1000);
  }
  t.ok(client.isClosed, `closed within ${HEADERS_TIMEOUT_MS} + ${SLACK_MS} ms`);
  const after = (client.closedAt ?? Date.now()) - start;
  t.ok(after >= HEADERS_TIMEOUT_MS - 100, `not before the timeout (${after} ms)`);
  t.match(client.received, /^HTTP\/1\.1 408 /, 'told 408 Request Timeout');
});

void t.test('a connection that sends nothing is closed at the headers timeout', async (t) => {
  const port = await startServer(t);
  const client = await RawConnection.open(t, port);
  const start = Date.now();
  await Promise.race([client.closed, sleep(HEADERS_TIMEOUT_MS + SLACK_MS)]);
  t.ok(client.isClosed, `closed after ${(client.closedAt ?? Date.now()) - start} ms`);
});

void t.test('an idle keep-alive connection is closed after the keep-alive timeout', async (t) => {
  const port = await startServer(t);
  const client = await RawConnection.open(t, port);
  client.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
  const deadline = Date.now() + 5000;
  // The body comes chunked: the last chunk ends the response.
  while (!client.received.endsWith('\r\n0\r\n\r\n') && Date.now() < deadline) await sleep(20);
  const answered = Date.now();
  t.match(client.received, /^HTTP\/1\.1 200 [^]*Keep-Alive: timeout=5\r\n[^]*ok\n/, 'answered, kept alive');
  await Promise.race([client.closed, sleep(KEEP_ALIVE_TIMEOUT_MS + SLACK_MS)]);
  t.ok(client.isClosed, `closed within ${KEEP_ALIVE_TIMEOUT_MS} + ${SLACK_MS} ms`);
  const idle = (client.closedAt ?? Date.now()) - answered;
  t.ok(idle >= KEEP_ALIVE_TIMEOUT_MS - 500, `not before the timeout (${idle} ms idle)`);
});

void t.test('an oversized header gets 431 and the connection is closed', async (t) => {
  const port = await startServer(t);
  const client = await RawConnection.open(t, port);
  client.write(`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(MAX_HEADER_BYTES)}\r\n\r\n`);
  await Promise.race([client.closed, sleep(5000)]);
  t.match(client.received, /^HTTP\/1\.1 431 /, '431 Request Header Fields Too Large');
  t.ok(client.isClosed, 'connection closed');
  const fits = await httpRequest(port, { path: '/healthz', headers: { 'x-big': 'a'.repeat(MAX_HEADER_BYTES / 2) } });
  t.equal(fits.status, 200, 'a header within the limit is fine');
});

interface BinaryResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** GET or HEAD /metrics with this Accept header (none if undefined), the body as bytes. */
function scrape(port: number, accept?: string, method = 'GET'): Promise<BinaryResult> {
  return new Promise((resolve, reject) => {
    const headers = accept === undefined ? {} : { accept };
    const req = http.request({ host: '127.0.0.1', port, method, path: '/metrics', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error('scrape timed out')));
    req.on('error', reject);
    req.end();
  });
}

const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

void t.test('/metrics answers in the exposition the Accept header asks for, with Vary: Accept', async (t) => {
  const family = new ComputedFamily('kernscope_probe_up', 'Up.', 'gauge', () => [{ labels: { probe: 'x' }, value: 1 }]);
  const port = await startServer(t, new PrometheusExporter([family]));
  for (const [accept, what] of [
    [undefined, 'no Accept header'],
    [PROMETHEUS_242_ACCEPT, "Prometheus 2.42's default"],
    ['*/*', '*/*'],
    ['application/openmetrics-text;version=1.0.0', 'OpenMetrics only'],
    [`${PROTOBUF_CONTENT_TYPE};q=0.4,text/plain;version=0.0.4;q=0.5`, 'protobuf below text'],
  ]) {
    const { status, headers, body } = await scrape(port, accept);
    t.strictSame([status, headers['content-type'], headers.vary], [200, TEXT_CONTENT_TYPE, 'Accept'], `${what}: text`);
    t.match(body.toString(), /^kernscope_probe_up\{probe="x"\} 1$/m, `${what}: the text body`);
  }
  for (const [accept, what] of [
    [PROMETHEUS_242_NATIVE_ACCEPT, 'Prometheus 2.42 with native histograms'],
    [`text/plain;version=0.0.4;q=0.5,${PROTOBUF_CONTENT_TYPE};q=0.6`, 'protobuf above text'],
  ]) {
    const { status, headers, body } = await scrape(port, accept);
    t.strictSame(
      [status, headers['content-type'], headers.vary],
      [200, 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited', 'Accept'],
      `${what}: protobuf`,
    );
    const families = decodeFamilies(body);
    t.ok(
      families.some((f) => f.name === 'process_cpu_user_seconds_total'),
      `${what}: prom-client's defaults in the body`,
    );
    t.strictSame(families.at(-1)?.metric?.[0].gauge?.value, 1, `${what}: the agent's families in the body`);
  }
  const head = await scrape(port, PROMETHEUS_242_NATIVE_ACCEPT, 'HEAD');
  t.strictSame(
    [head.status, head.headers['content-type'], head.headers.vary, head.body.length],
    [200, PROTOBUF_CONTENT_TYPE, 'Accept', 0],
    'HEAD: the protobuf headers, no body',
  );
  const textHead = await scrape(port, undefined, 'HEAD');
  t.strictSame([textHead.status, textHead.headers['content-type'], textHead.body.length], [200, TEXT_CONTENT_TYPE, 0]);
});

void t.test('concurrent scrapes share one render per exposition', async (t) => {
  const renders: ExpositionFormat[] = [];
  class SlowExporter extends PrometheusExporter {
    override async render(format: ExpositionFormat): Promise<Exposition> {
      renders.push(format);
      await sleep(300);
      return super.render(format);
    }
  }
  const port = await startServer(t, new SlowExporter([]));
  const results = await Promise.all([
    scrape(port),
    scrape(port, PROMETHEUS_242_NATIVE_ACCEPT),
    scrape(port, PROMETHEUS_242_ACCEPT),
    scrape(port, PROMETHEUS_242_NATIVE_ACCEPT),
    scrape(port),
  ]);
  t.strictSame(
    results.map((r) => r.headers['content-type']),
    [TEXT_CONTENT_TYPE, PROTOBUF_CONTENT_TYPE, TEXT_CONTENT_TYPE, PROTOBUF_CONTENT_TYPE, TEXT_CONTENT_TYPE],
    'each scrape the exposition it asked for',
  );
  t.strictSame(renders.sort(), ['protobuf', 'text'], 'one render of each');
  t.ok(results[1].body.equals(results[3].body), 'the protobuf scrapes got the same body');
  await scrape(port, PROMETHEUS_242_NATIVE_ACCEPT);
  t.equal(renders.length, 3, 'a later scrape renders again');
});
