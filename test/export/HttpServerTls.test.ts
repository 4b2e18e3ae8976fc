// The endpoint over TLS from a web config file (exporter-toolkit format), on
// real sockets with openssl-made certificates: https works with the server's
// certificate, plain http does not, TLS versions are enforced, and with
// RequireAndVerifyClientCert only a client with a certificate the CA signed
// gets in.
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';

import t from 'tap';

import { webSettings } from '../../src/config/webConfig';
import { HttpServer } from '../../src/export/HttpServer';
import { PrometheusExporter } from '../../src/export/PrometheusExporter';
import { writeConfig } from '../helpers/configFile';
import type { HttpClient } from '../helpers/net';
import { httpGet } from '../helpers/net';
import type { HasTeardown } from '../helpers/teardown';
import { selfSignedCert } from '../helpers/tls';

/** An HttpServer with the web config `yaml` on a free port. */
async function startServer(t: HasTeardown, yaml: string): Promise<number> {
  const server = new HttpServer(new PrometheusExporter([]), () => true, webSettings(writeConfig(t, yaml)));
  t.teardown(() => server.shutdown());
  return (await server.start('127.0.0.1:0')).port;
}

/** The request's status, or the error's code or message when it failed. */
async function outcome(port: number, client?: HttpClient): Promise<number | string> {
  try {
    return (await httpGet(port, '/metrics', 5000, client)).status;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
}

void t.test('https with the certificate; plain http to the TLS port fails', async (t) => {
  const server = await selfSignedCert(t);
  const port = await startServer(
    t,
    `tls_server_config:\n  cert_file: ${server.certPath}\n  key_file: ${server.keyPath}\n`,
  );
  const scrape = await httpGet(port, '/metrics', 5000, { ca: server.cert });
  t.equal(scrape.status, 200, 'https GET /metrics');
  t.match(scrape.body, /^process_cpu_user_seconds_total /m, 'metrics in the body');
  const plain = await outcome(port);
  t.type(plain, 'string', `plain http is not answered (${plain})`);
  const other = await selfSignedCert(t);
  t.equal(
    await outcome(port, { ca: other.cert }),
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'a client that trusts another CA refuses',
  );
});

void t.test('min_version TLS13 refuses a TLS 1.2 client', async (t) => {
  const server = await selfSignedCert(t);
  const port = await startServer(
    t,
    `tls_server_config:\n  cert_file: ${server.certPath}\n  key_file: ${server.keyPath}\n  min_version: TLS13\n`,
  );
  t.equal(await outcome(port, { ca: server.cert }), 200, 'a TLS 1.3 client gets in');
  const tls12 = await new Promise<string>((resolve) => {
    const options = { host: '127.0.0.1', port, path: '/metrics', ca: server.cert, maxVersion: 'TLSv1.2' as const };
    https
      .get({ ...options, agent: false }, () => resolve('answered'))
      .on('error', (error: NodeJS.ErrnoException) => resolve(`${error.code} ${error.message}`));
  });
  t.match(tls12, /^EPROTO .*protocol version/, `a TLS 1.2 client is refused (${tls12})`);
});

void t.test('RequireAndVerifyClientCert: only a client certificate signed by client_ca_file gets in', async (t) => {
  const [server, client, stranger] = [await selfSignedCert(t), await selfSignedCert(t), await selfSignedCert(t)];
  const port = await startServer(
    t,
    [
      'tls_server_config:',
      `  cert_file: ${server.certPath}`,
      `  key_file: ${server.keyPath}`,
      '  client_auth_type: RequireAndVerifyClientCert',
      // The client's self-signed certificate is its own CA.
      `  client_ca_file: ${client.certPath}`,
      '',
    ].join('\n'),
  );
  t.equal(await outcome(port, { ca: server.cert, cert: client.cert, key: client.key }), 200, 'with the certificate');
  const without = await outcome(port, { ca: server.cert });
  t.equal(without, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'without a client certificate: refused');
  const unsigned = await outcome(port, { ca: server.cert, cert: stranger.cert, key: stranger.key });
  t.type(unsigned, 'string', `with a certificate the CA did not sign: refused (${unsigned})`);
});

void t.test('relative certificate paths are relative to the web config file', async (t) => {
  const server = await selfSignedCert(t);
  const file = path.join(path.dirname(server.certPath), 'web.yml');
  writeFileSync(
    file,
    `tls_server_config:\n  cert_file: ${path.basename(server.certPath)}\n  key_file: ${path.basename(server.keyPath)}\n`,
  );
  const { tls } = webSettings(file);
  t.same([tls?.cert, tls?.key], [server.cert, server.key], 'read from beside the file, whatever the working directory');
});
