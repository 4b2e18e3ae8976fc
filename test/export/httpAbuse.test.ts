// A real agent under HTTP abuse while it counts real execs: 2000 connections
// opened at once, then hundreds of oversized headers. The connections beyond
// the cap are closed at once and the rest at the headers timeout, the server
// then answers a fresh scrape, its memory stays bounded, and the drain never
// stalls: with a ring small enough that a stall would overflow it, every
// exec the workload made is counted and none is lost.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import t from 'tap';

import { HEADERS_TIMEOUT_MS, MAX_CONNECTIONS, MAX_HEADER_BYTES } from '../../src/export/HttpServer';
import { AgentProcess } from '../helpers/agent';
import { createCgroup } from '../helpers/cgroup';
import { valueOf } from '../helpers/metrics';
import { RawConnection } from '../helpers/net';
import { run } from '../helpers/process';
import { sleep, waitFor } from '../helpers/teardown';

const CONNECTIONS = 2000;
const OVERSIZED = 400;
/**
 * A small ring: 341 exec records (184 + 8 bytes each), so a drain that stalls
 * for as long as the workload takes to make about 250 execs (about a second
 * here; the reader is woken once a quarter of the ring waits) loses some. The
 * smallest ring (21 records) lost records once in CI: with edge-triggered
 * readiness the ring already holds up to a quarter of itself when the event
 * loop is busy accepting 2000 connections.
 */
const RING_BYTES = 65536;
const RING_RECORDS = RING_BYTES / 192;
/** Late enforcement of a timeout (checked every second) on a shared machine. */
const SLACK_MS = 3000;

/** TCP connections established to `port` on loopback, as the kernel has them. */
function establishedTo(port: number): number {
  const out = execFileSync('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.trim() !== '').length;
}

function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]) * 1024;
}

void t.test('abuse closes bounded, costs bounded memory and never stalls the drain', async (t) => {
  const cgroup = createCgroup(t);
  const agent = await AgentProcess.start(t, [
    '--probes',
    'exec',
    '--cgroup',
    cgroup,
    '--ring-bytes',
    String(RING_BYTES),
  ]);
  await agent.metrics(); // the first scrape's allocations are not the abuse's
  const rssBefore = rssBytes(agent.pid);

  // Execs until told to stop, counting them itself: the exact expected count.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kernscope-abuse-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stop = path.join(dir, 'stop');
  const script = `echo $$ > ${cgroup}/cgroup.procs; i=0; while [ ! -e ${stop} ]; do /bin/true; i=$((i+1)); done; echo $i`;
  const workload = run('/bin/sh', ['-c', script], { timeoutMs: 120000 });

  const opened = await Promise.allSettled(Array.from({ length: CONNECTIONS }, () => RawConnection.open(t, agent.port)));
  const flood = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  t.comment(`${flood.length} of ${CONNECTIONS} connections opened (the rest refused by the kernel's backlog)`);
  const held = await waitFor(
    'the connections beyond the cap to be closed',
    () => {
      const open = flood.filter((c) => !c.isClosed).length;
      return open <= MAX_CONNECTIONS ? open : undefined;
    },
    { timeoutMs: 10000, intervalMs: 100 },
  );
  t.ok(
    held <= MAX_CONNECTIONS,
    `${held} look open to their clients (cap ${MAX_CONNECTIONS}); the other ${flood.length - held} closed`,
  );
  t.ok(
    flood.every((c) => c.received === ''),
    'no connection got an answer without asking',
  );
  await Promise.race([Promise.all(flood.map((c) => c.closed)), sleep(HEADERS_TIMEOUT_MS + SLACK_MS)]);
  // Asked of the kernel, not of the clients: a connection the full accept queue dropped looks open to its
  // client, which sends nothing and so never learns, yet the server never had it.
  t.equal(establishedTo(agent.port), 0, 'the server holds none: the held ones closed at the headers timeout');

  let answered431 = 0;
  const request = `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4 * MAX_HEADER_BYTES)}\r\n\r\n`;
  for (let batch = 0; batch < OVERSIZED / 50; batch++) {
    const clients = await Promise.all(Array.from({ length: 50 }, () => RawConnection.open(t, agent.port)));
    for (const client of clients) client.write(request);
    await Promise.race([Promise.all(clients.map((c) => c.closed)), sleep(5000)]);
    answered431 += clients.filter((c) => c.isClosed && c.received.startsWith('HTTP/1.1 431 ')).length;
  }
  t.equal(answered431, OVERSIZED, 'every oversized header: 431, connection closed');

  writeFileSync(stop, '');
  const done = await workload;
  t.same({ code: done.code, stderr: done.stderr }, { code: 0, stderr: '' }, 'workload ran through the abuse');
  const execs = Number(done.stdout.trim());
  t.ok(execs > 200, `${execs} execs during the abuse (${(execs / RING_RECORDS).toFixed(0)} rings full)`);

  const samples = await waitFor(
    `events_total to reach ${execs}`,
    async () => {
      const samples = await agent.metrics();
      return (valueOf(samples, 'kernscope_events_total', { probe: 'exec' }) ?? 0) >= execs ? samples : undefined;
    },
    { timeoutMs: 10000, intervalMs: 200 },
  );
  t.equal(valueOf(samples, 'kernscope_events_total', { probe: 'exec' }), execs, 'every exec drained, exactly');
  t.equal(valueOf(samples, 'kernscope_events_lost_total', { probe: 'exec' }), 0, 'none lost: the drain never stalled');
  const grown = rssBytes(agent.pid) - rssBefore;
  t.ok(grown < 64 * 1024 * 1024, `RSS grew ${(grown / 1048576).toFixed(1)} MiB (bound 64 MiB)`);

  const exit = await agent.stop('SIGTERM', 5000);
  if (!t.same(exit, { code: 0, signal: null }, 'SIGTERM exits 0')) t.comment(agent.log);
});
