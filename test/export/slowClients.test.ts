// 1000 slow clients that keep coming back, from one source address and from
// 250 (none of them the scraper's), against the endpoint on real sockets (the server in this process, the flood
// in another):
// every scrape is answered within 1 s, the connections held stay within the
// limits, and over TLS a flood of handshakes that never begin changes nothing.
import t from 'tap';

import { webSettings } from '../../src/config/webConfig';
import { HttpServer, MAX_CONNECTIONS, MAX_CONNECTIONS_PER_SOURCE } from '../../src/export/HttpServer';
import { PrometheusExporter } from '../../src/export/PrometheusExporter';
import { writeConfig } from '../helpers/configFile';
import type { HttpClient } from '../helpers/net';
import { httpGet } from '../helpers/net';
import { FloodProcess, loopbackSources } from '../helpers/slowFlood';
import type { HasTeardown } from '../helpers/teardown';
import { sleep } from '../helpers/teardown';
import { selfSignedCert } from '../helpers/tls';

const CLIENTS = 1000;
const SCRAPES = 20;
/** What a Prometheus scrape_timeout of 1 s allows. */
const SCRAPE_TIMEOUT_MS = 1000;

async function startServer(t: HasTeardown, webYaml?: string): Promise<{ server: HttpServer; port: number }> {
  const web = webYaml === undefined ? undefined : webSettings(writeConfig(t, webYaml));
  const server = new HttpServer(new PrometheusExporter([]), () => true, web);
  t.teardown(() => server.shutdown());
  return { server, port: (await server.start('127.0.0.1:0')).port };
}

interface Scrapes {
  answered: number;
  slowestMs: number;
  errors: string[];
}

/** SCRAPES scrapes, one every 100 ms, each on a fresh connection, each allowed SCRAPE_TIMEOUT_MS. */
async function scrapeThrough(port: number, client?: HttpClient): Promise<Scrapes> {
  const result: Scrapes = { answered: 0, slowestMs: 0, errors: [] };
  for (let i = 0; i < SCRAPES; i++) {
    const started = performance.now();
    try {
      const { status } = await httpGet(port, '/metrics', SCRAPE_TIMEOUT_MS, client);
      if (status === 200) result.answered++;
      else result.errors.push(`scrape ${i}: ${status}`);
    } catch (error) {
      result.errors.push(`scrape ${i}: ${(error as Error).message}`);
    }
    result.slowestMs = Math.max(result.slowestMs, performance.now() - started);
    await sleep(100);
  }
  return result;
}

/**
 * The scraper connects from 127.0.0.1, the flood from other addresses (as a
 * pod on the node would): a flood from the scraper's own address can be
 * bounded in total but not told apart from it.
 */
const FLOODS: [what: string, clients: number, sources: string[]][] = [
  ['1000 slow clients from one source address', CLIENTS, ['127.0.0.2']],
  ['1000 slow clients from 250 source addresses', CLIENTS, loopbackSources(250)],
  ['2000 slow clients from 250 source addresses (past the total)', 2 * CLIENTS, loopbackSources(250)],
];

for (const [what, clients, sources] of FLOODS) {
  void t.test(`${what}: every scrape within 1 s`, async (t) => {
    const { server, port } = await startServer(t);
    const flood = await FloodProcess.start(t, port, { clients, sources });
    const scrapes = await scrapeThrough(port);
    t.same(scrapes.errors, [], 'no scrape failed');
    t.equal(scrapes.answered, SCRAPES, `${SCRAPES} scrapes answered (slowest ${scrapes.slowestMs.toFixed(0)} ms)`);
    const perSource = Math.ceil(clients / sources.length);
    const held = Math.min(MAX_CONNECTIONS, sources.length * Math.min(perSource, MAX_CONNECTIONS_PER_SOURCE));
    t.ok(
      server.connections.size <= held + 1,
      `${server.connections.size} connections held (at most ${held} + a scrape)`,
    );
    const { opened, closedByServer } = await flood.stop();
    t.comment(
      `${opened} slow connections made, ${closedByServer} closed by the server, ${server.connections.shed} shed`,
    );
  });
}

void t.test('over TLS, 1000 handshakes that never begin: every https scrape within 1 s', async (t) => {
  const cert = await selfSignedCert(t);
  const { server, port } = await startServer(
    t,
    `tls_server_config:\n  cert_file: ${cert.certPath}\n  key_file: ${cert.keyPath}\n`,
  );
  const flood = await FloodProcess.start(t, port, { clients: CLIENTS, sources: loopbackSources(250), send: '' });
  const scrapes = await scrapeThrough(port, { ca: cert.cert });
  t.same(scrapes.errors, [], 'no scrape failed');
  t.equal(scrapes.answered, SCRAPES, `${SCRAPES} scrapes answered (slowest ${scrapes.slowestMs.toFixed(0)} ms)`);
  t.ok(server.connections.size <= MAX_CONNECTIONS, `${server.connections.size} connections held`);
  const { opened } = await flood.stop();
  t.comment(`${opened} slow connections made, ${server.connections.shed} shed`);
});
