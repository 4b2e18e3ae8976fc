// The agent's --netns option: tcp counts only the sockets of that network
// namespace, so loopback connections there are counted exactly while the
// host's own connections (the scrapes themselves) are not.
import t from 'tap';

import { AgentProcess } from '../helpers/agent';
import { valueOf } from '../helpers/metrics';
import { Netns } from '../helpers/netns';
import { CLI } from '../helpers/paths';
import { run } from '../helpers/process';

const PAIRS = 7;

const CLIENT_SERVER = `
import socket
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(16)
port = server.getsockname()[1]
for _ in range(${PAIRS}):
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = server.accept()
    conn.close()
    client.close()
`;

void t.test('--netns: exact counts for the namespace, nothing from the host', async (t) => {
  const netns = await Netns.create(t);
  const agent = await AgentProcess.start(t, ['--probes', 'tcp', '--netns', `/run/netns/${netns.name}`]);
  await netns.exec('python3', ['-c', CLIENT_SERVER]);
  const samples = await agent.metrics(); // this scrape is a host connection: not counted
  t.equal(valueOf(samples, 'kernscope_tcp_connections_total', { direction: 'outbound' }), PAIRS, 'outbound');
  t.equal(valueOf(samples, 'kernscope_tcp_connections_total', { direction: 'inbound' }), PAIRS, 'inbound');
  t.equal(valueOf(samples, 'kernscope_tcp_connect_duration_seconds_count'), PAIRS, 'connect durations');
});

void t.test('--netns naming something that is not a namespace is a one-line error, exit 2', async (t) => {
  const result = await run(process.execPath, [CLI, 'run', '--netns', '/etc/hostname'], { timeoutMs: 20000 });
  t.equal(result.code, 2);
  t.match(result.stderr, /^kernscope: invalid --netns: "\/etc\/hostname".*namespace/);
  t.equal(result.stderr.trim().split('\n').length, 1, 'one line');
});
