// TCP by pod: with attribution on, the tcp maps key by the socket's cgroup
// (the creating task's; accepted sockets inherit the listener's). A process in
// a cgroup the test creates, in a network namespace the test creates, makes
// N loopback connections and one to a closed port: every count lands under
// that cgroup's labels; the RST answering the closed port has no socket.
import path from 'node:path';

import t from 'tap';

import type { HistogramFamily, MetricFamily, ScalarFamily } from '../../src/aggregate/MetricFamily';
import { mapFamilies } from '../../src/aggregate/MapMetrics';
import { Attribution } from '../../src/enrich/Attribution';
import { CgroupPaths } from '../../src/enrich/CgroupPaths';
import { cgroup2Mount } from '../../src/kernel/cgroup';
import { ProbeLoader } from '../../src/load/ProbeLoader';
import { addon } from '../../src/native/addon';
import { tcpProbe } from '../../src/probes/tcp';
import { createCgroup } from '../helpers/cgroup';
import { Netns } from '../helpers/netns';
import { run } from '../helpers/process';

const CONNECTIONS = 12;

const WORK = `
import socket
listener = socket.socket()
listener.bind(('127.0.0.1', 0))
listener.listen(64)
for _ in range(${CONNECTIONS}):
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    client.close()
    server.close()
closed = socket.socket()
closed.bind(('127.0.0.1', 0))
port = closed.getsockname()[1]
closed.close()
try:
    socket.create_connection(('127.0.0.1', port))
except ConnectionRefusedError:
    pass
`;

void t.test('connections, latency, failures and resets are labelled by the socket cgroup', async (t) => {
  const ns = await Netns.create(t);
  const cgroup = createCgroup(t, 'kernscope-tcp-attr');
  const loaded = new ProbeLoader(addon.kernelFeatures()).load(tcpProbe, {
    ringBytes: 4096,
    wakeupBytes: 4096,
    netns: ns.inum,
    attribution: true,
  });
  t.teardown(() => loaded.object.close());
  const attribution = new Attribution(new CgroupPaths(cgroup2Mount()!));
  const families = new Map<string, MetricFamily>(
    mapFamilies(loaded.object, tcpProbe.mapMetrics, {
      limits: { maxSeries: 100, ttlMs: 0 },
      attribution: (id) => attribution.labels(id),
    }).map((f) => [f.name, f]),
  );

  // Join the cgroup outside the namespace's mounts (ip netns exec remounts /sys), then enter it.
  const [ip, args] = ns.argv('python3', ['-c', WORK]);
  const script = `echo $$ > ${cgroup}/cgroup.procs && exec "$@"`;
  const result = await run('/bin/sh', ['-c', script, 'sh', ip, ...args]);
  t.same({ code: result.code, stderr: result.stderr }, { code: 0, stderr: '' }, 'the workload ran');

  const where = { namespace: 'host', pod: '', container: path.basename(cgroup) };
  const scalar = (name: string, labels: Record<string, string>) =>
    (families.get(name) as ScalarFamily)
      .collect()
      .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((sum, s) => sum + s.value, 0);
  t.equal(scalar('kernscope_tcp_connections_total', { ...where, direction: 'outbound' }), CONNECTIONS, 'outbound');
  t.equal(scalar('kernscope_tcp_connections_total', { ...where, direction: 'inbound' }), CONNECTIONS, 'inbound');
  t.equal(scalar('kernscope_tcp_connections_total', {}), 2 * CONNECTIONS, 'nothing elsewhere');
  const latency = (families.get('kernscope_tcp_connect_duration_seconds') as HistogramFamily).collect();
  t.same(
    latency.map((s) => [s.labels, s.count]),
    [[where, CONNECTIONS]],
    'one latency series, for the cgroup',
  );
  t.equal(scalar('kernscope_tcp_connect_failures_total', where), 1, 'the refused connect');
  t.equal(scalar('kernscope_tcp_resets_total', { ...where, direction: 'received' }), 1, 'the RST it received');
  t.equal(
    scalar('kernscope_tcp_resets_total', { namespace: '', pod: '', container: '', direction: 'sent' }),
    1,
    'the RST answering the closed port belongs to no socket',
  );
});
