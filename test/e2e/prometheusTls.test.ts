// A real Prometheus (Debian package) scraping a real agent over TLS with
// basic auth, configured by a web config file as for any exporter-toolkit
// exporter: the target is up and kernscope's metrics arrive.
import t from 'tap';
import bcrypt from 'bcryptjs';

import { AgentProcess } from '../helpers/agent';
import { writeConfig } from '../helpers/configFile';
import { httpGet } from '../helpers/net';
import { PrometheusServer } from '../helpers/prometheus';
import { waitFor } from '../helpers/teardown';
import { selfSignedCert } from '../helpers/tls';

const USER = 'prometheus';
const PASSWORD = 'scrape-me';

void t.test('Prometheus scrapes over https with basic auth: up == 1', async (t) => {
  const cert = await selfSignedCert(t);
  const web = writeConfig(
    t,
    [
      'tls_server_config:',
      `  cert_file: ${cert.certPath}`,
      `  key_file: ${cert.keyPath}`,
      'basic_auth_users:',
      `  ${USER}: '${bcrypt.hashSync(PASSWORD, 10)}'`,
      '',
    ].join('\n'),
  );
  const agent = await AgentProcess.start(t, ['--probes', 'exec', '--web-config', web], {
    client: { ca: cert.cert, auth: `${USER}:${PASSWORD}` },
  });
  const anonymous = await httpGet(agent.port, '/metrics', 5000, { ca: cert.cert });
  t.equal(anonymous.status, 401, 'the agent asks for credentials');

  const prometheus = await PrometheusServer.start(t, [`127.0.0.1:${agent.port}`], {
    caFile: cert.certPath,
    basicAuth: { username: USER, password: PASSWORD },
  });
  const up = await waitFor('a scrape of the agent', async () => prometheus.value('up{job="kernscope"}'), {
    timeoutMs: 20000,
    intervalMs: 250,
  });
  if (!t.equal(up, 1, 'up == 1')) t.comment(prometheus.log);
  t.equal(await prometheus.value('kernscope_probe_up{probe="exec"}'), 1, 'kernscope metrics stored');
});
