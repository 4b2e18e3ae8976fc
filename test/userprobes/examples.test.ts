// The eight user-probe examples (examples/, ebpf_exporter's format) end to
// end: one real agent loads them all with --probe-dir, a real workload drives
// each, and /metrics is read before and after it. The counts are cumulative
// since load, so each subtest checks the change: exact where its workload owns
// the key (a comm, a cgroup, a port, a loop device), a bound where the kernel
// shares it with the rest of the machine (examples/README.md, the table).
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import tap from 'tap';

import { AgentProcess } from '../helpers/agent';
import { createCgroup } from '../helpers/cgroup';
import { createLoopDevice } from '../helpers/loopDevice';
import type { Sample } from '../helpers/metrics';
import { select, valueOf } from '../helpers/metrics';
import { ROOT } from '../helpers/paths';
import { run } from '../helpers/process';
import type { HasTeardown } from '../helpers/teardown';
import { scaled, sleep } from '../helpers/teardown';

const EXAMPLES = path.join(ROOT, 'examples');

/** Each example's programs and the kind each attaches as (its SEC() name). */
const ATTACH: Record<string, [program: string, attach: string][]> = {
  softirqs: [
    ['softirq_entry', 'tp_btf'],
    ['softirq_exit', 'tp_btf'],
  ],
  timer_starts: [['timer_start', 'tracepoint']],
  sched_migrations: [['sched_migrate_task', 'tp_btf']],
  skb_drops: [['kfree_skb', 'tp_btf']],
  blockio_latency: [
    ['block_rq_issue', 'tp_btf'],
    ['block_rq_complete', 'tp_btf'],
  ],
  exec_argc: [['sched_process_exec', 'tp_btf']],
  syscall_errors: [['sys_exit', 'raw_tp']],
  tcp_requests: [['timer_start', 'tp_btf']],
};

/** softirqs.yaml's static_map, in vec_nr order. */
const SOFTIRQ_KINDS = ['hi', 'timer', 'net_tx', 'net_rx', 'block', 'irq_poll', 'tasklet', 'sched', 'hrtimer', 'rcu'];

type Labels = Record<string, string>;

/** The value of one series, 0 when it has none yet (a hash map has keys only for what happened). */
const valueIn = (samples: Sample[], name: string, labels: Labels): number => valueOf(samples, name, labels) ?? 0;

/**
 * Scrapes until `ready` holds and `watch` reads the same three times in a row
 * (150 ms apart), or 15 s pass: the last scrape either way.
 */
async function settled(
  agent: AgentProcess,
  watch: (samples: Sample[]) => unknown,
  ready: (samples: Sample[]) => boolean = () => true,
): Promise<Sample[]> {
  const deadline = Date.now() + scaled(15000);
  let last = '';
  let same = 0;
  for (;;) {
    const samples = await agent.metrics();
    const now = JSON.stringify(watch(samples));
    same = now === last ? same + 1 : 0;
    last = now;
    if ((ready(samples) && same >= 2) || Date.now() > deadline) return samples;
    await sleep(150);
  }
}

/** Scrapes until `ready` holds, or 15 s pass: the last scrape either way (for lower bounds that scrapes themselves raise). */
async function until(agent: AgentProcess, ready: (samples: Sample[]) => boolean): Promise<Sample[]> {
  const deadline = Date.now() + scaled(15000);
  for (;;) {
    const samples = await agent.metrics();
    if (ready(samples) || Date.now() > deadline) return samples;
    await sleep(150);
  }
}

interface Histogram {
  /** Cumulative counts by `le`, as exported. */
  buckets: Record<string, number>;
  sum: number;
  count: number;
}

function histogramOf(samples: Sample[], name: string, labels: Labels): Histogram {
  const buckets: Record<string, number> = {};
  for (const sample of select(samples, `${name}_bucket`, labels)) buckets[sample.labels.le] = sample.value;
  return { buckets, sum: valueIn(samples, `${name}_sum`, labels), count: valueIn(samples, `${name}_count`, labels) };
}

/** after - before, bucket by bucket (a bucket the baseline lacks counted from 0). */
function histogramGrowth(before: Histogram, after: Histogram): Histogram {
  const buckets: Record<string, number> = {};
  for (const [le, value] of Object.entries(after.buckets)) buckets[le] = value - (before.buckets[le] ?? 0);
  return { buckets, sum: after.sum - before.sum, count: after.count - before.count };
}

/** A command's binary copied under `name` into `dir`: its execs carry that comm and nobody else's do. */
function copyBinary(dir: string, command: string, name: string): string {
  const source = ['/usr/bin', '/bin'].map((d) => path.join(d, command)).find((file) => existsSync(file));
  if (!source) throw new Error(`no ${command} in /usr/bin or /bin`);
  const copy = path.join(dir, name);
  copyFileSync(source, copy);
  return copy;
}

function tempDir(t: HasTeardown): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kernscope-examples-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The CPUs this process may run on (/proc/self/status Cpus_allowed_list: "0-1", "0,2-5"). */
function allowedCpus(): number[] {
  const line = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '';
  return line.split(',').flatMap((range) => {
    const [first, last = first] = range.split('-').map(Number);
    return Array.from({ length: last - first + 1 }, (_, i) => first + i);
  });
}

function udpSocket(): dgram.Socket {
  const socket = dgram.createSocket('udp4');
  socket.on('error', () => undefined); // an ICMP error on a send is the workload, not a failure
  return socket;
}

/** Sends `count` one-byte datagrams from one socket to 127.0.0.1:port, one after another. */
async function sendDatagrams(port: number, count: number): Promise<void> {
  const socket = udpSocket();
  try {
    for (let i = 0; i < count; i++) {
      await new Promise<void>((resolve, reject) =>
        socket.send('x', port, '127.0.0.1', (error) => (error ? reject(error) : resolve())),
      );
    }
  } finally {
    socket.close();
  }
}

/** A UDP port on 127.0.0.1 that was bound a moment ago and is closed now. */
async function closedUdpPort(): Promise<number> {
  const socket = udpSocket();
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

/** A receiver on 127.0.0.1 that resolves `all` once it has `count` datagrams. */
async function udpReceiver(t: HasTeardown, count: number): Promise<{ port: number; all: Promise<void> }> {
  const socket = udpSocket();
  t.teardown(() => socket.close());
  let received = 0;
  const all = new Promise<void>((resolve) =>
    socket.on('message', () => {
      if (++received === count) resolve();
    }),
  );
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, all };
}

/**
 * `count` loopback TCP connections to a fresh listener, one at a time: connect,
 * accept, the client closes first (so the client side ends in TIME_WAIT), the
 * server closes on the client's FIN. Resolves with the listener's port once
 * every connection is closed on both sides.
 */
async function loopbackConnections(count: number): Promise<number> {
  const serverClosed: Promise<void>[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    serverClosed.push(new Promise((resolve) => socket.once('close', () => resolve())));
    socket.resume(); // allowHalfOpen is off: the client's FIN ends this side too
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  try {
    for (let i = 0; i < count; i++) {
      await new Promise<void>((resolve, reject) => {
        const client = net.connect({ host: '127.0.0.1', port });
        client.once('error', reject);
        client.once('connect', () => client.end());
        client.resume();
        client.once('close', () => resolve());
      });
    }
    await Promise.all(serverClosed);
    if (serverClosed.length !== count) throw new Error(`accepted ${serverClosed.length} of ${count} connections`);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return port;
}

void tap.test('the user-probe examples, loaded by one agent, each measured around its workload', async (t) => {
  // Attached before the probes load, so udev's first look at it and the agent's device names are settled.
  const loop = await createLoopDevice(t, 64 << 20);
  const names = Object.keys(ATTACH);
  const agent = await AgentProcess.start(t, ['--probe-dir', EXAMPLES, '--probes', names.join(',')]);

  /** Probe up, and attached program by program with the kind its section names. */
  const checkLoaded = (t: tap.Test, samples: Sample[], probe: string): void => {
    t.equal(valueOf(samples, 'kernscope_probe_up', { probe }), 1, `${probe} up`);
    t.same(
      select(samples, 'kernscope_probe_info', { probe })
        .sort((a, b) => a.labels.program.localeCompare(b.labels.program))
        .map((s) => ({ ...s.labels, value: s.value })),
      ATTACH[probe]
        .map(([program, attach]) => ({ probe, program, attach, value: 1 }))
        .sort((a, b) => a.program.localeCompare(b.program)),
      `${probe} attached as ${[...new Set(ATTACH[probe].map(([, attach]) => attach))].join(', ')}`,
    );
  };

  await t.test('softirqs: 100 datagrams over loopback run NET_RX; counter and histogram agree', async (t) => {
    const N = 100;
    const counter = (samples: Sample[], kind: string): number => valueIn(samples, 'kernscope_softirqs_total', { kind });
    const before = await agent.metrics();
    const receiver = await udpReceiver(t, N);
    await sendDatagrams(receiver.port, N);
    await receiver.all;
    const after = await agent.metrics();
    checkLoaded(t, after, 'softirqs');
    t.ok(counter(after, 'net_rx') - counter(before, 'net_rx') >= 1, 'net_rx grew');

    // Both maps grow on every handler's exit; a scrape reads one, then the other. Scrapes until one
    // catches no more than a handful of handlers (per kind) between the two reads.
    const kinds = select(after, 'kernscope_softirqs_total').map((s) => s.labels.kind);
    t.same(kinds, SOFTIRQ_KINDS, 'a series for every kind, zeros included (a per-CPU array)');
    const gap = (samples: Sample[]): Record<string, number> =>
      Object.fromEntries(
        kinds.map((kind) => [
          kind,
          valueIn(samples, 'kernscope_softirq_duration_seconds_count', { kind }) - counter(samples, kind),
        ]),
      );
    const tolerance = 5 * os.availableParallelism();
    let samples = after;
    for (let attempt = 0; attempt < 20; attempt++) {
      if (Object.values(gap(samples)).every((d) => Math.abs(d) <= tolerance)) break;
      await sleep(100);
      samples = await agent.metrics();
    }
    t.ok(
      Object.values(gap(samples)).every((d) => Math.abs(d) <= tolerance),
      `per kind, histogram count - counter within ${tolerance}`,
      { gap: gap(samples) },
    );
    const malformed = kinds.filter((kind) => {
      const { buckets, count } = histogramOf(samples, 'kernscope_softirq_duration_seconds', { kind });
      const cumulative = Object.values(buckets);
      // A hash map: no series until the kind runs.
      return (
        cumulative.length > 0 && (cumulative.some((v, i) => v < (cumulative[i - 1] ?? 0)) || buckets['+Inf'] !== count)
      );
    });
    t.same(malformed, [], 'every histogram: buckets cumulative, +Inf == count');
    t.ok(
      histogramOf(samples, 'kernscope_softirq_duration_seconds', { kind: 'net_rx' }).sum > 0,
      'net_rx ran for some time',
    );
  });

  await t.test('timer_starts: 50 loopback connections start a request and a TIME_WAIT timer each', async (t) => {
    const N = 50;
    const timers = (samples: Sample[], fn: string): number =>
      valueIn(samples, 'kernscope_timer_starts_total', { function: fn });
    const before = await agent.metrics();
    await loopbackConnections(N);
    const after = await until(
      agent,
      (s) =>
        timers(s, 'reqsk_timer_handler') - timers(before, 'reqsk_timer_handler') >= N &&
        timers(s, 'tw_timer_handler') - timers(before, 'tw_timer_handler') >= N,
    );
    checkLoaded(t, after, 'timer_starts');
    // Scrapes are loopback connections too, and the machine has its own: at least N, not exactly.
    for (const fn of ['reqsk_timer_handler', 'tw_timer_handler']) {
      const grew = timers(after, fn) - timers(before, fn);
      t.ok(grew >= N, `${fn} started at least ${N} times (${grew})`);
    }
  });

  const cpus = allowedCpus();
  const oneCpu =
    cpus.length < 2 && `needs 2 CPUs to migrate between; this process may run on ${cpus.join(',') || 'none'}`;
  await t.test(
    'sched_migrations: a cgroup whose process alternates between two CPUs 100 times',
    { skip: oneCpu },
    async (t) => {
      const N = 100;
      const [first, second] = cpus;
      const cgroup = createCgroup(t);
      const count = (samples: Sample[]): number => valueIn(samples, 'kernscope_sched_migrations_total', { cgroup });
      const before = await agent.metrics();
      // One process: it joins the cgroup, pins itself to the first CPU, then each taskset moves the running
      // process to the other CPU and execs the next (a pinned task has nowhere else to go on exec).
      const chain = ['taskset', '-c', `${first}`];
      for (let i = 0; i < N; i++) chain.push('taskset', '-c', `${i % 2 === 0 ? second : first}`);
      const workload = await run('/bin/sh', [
        '-c',
        `echo $$ > ${cgroup}/cgroup.procs && exec "$@"`,
        'sh',
        ...chain,
        'true',
      ]);
      t.same({ code: workload.code, stderr: workload.stderr }, { code: 0, stderr: '' }, 'workload ran');
      const after = await settled(agent, count, (s) => count(s) - count(before) >= N);
      checkLoaded(t, after, 'sched_migrations');
      const grew = count(after) - count(before);
      t.ok(
        grew >= N && grew <= N + 10,
        `migrations of the cgroup: ${grew}, between ${N} and ${N + 10} (start-up adds a few)`,
      );
    },
  );

  await t.test('skb_drops: 100 datagrams to a closed port are dropped as no_socket', async (t) => {
    const N = 100;
    const drops = (samples: Sample[]): number => valueIn(samples, 'kernscope_skb_drops_total', { reason: 'no_socket' });
    const port = await closedUdpPort();
    const before = await agent.metrics();
    await sendDatagrams(port, N);
    const after = await until(agent, (s) => drops(s) - drops(before) >= N);
    checkLoaded(t, after, 'skb_drops');
    t.equal(select(after, 'kernscope_skb_drops_total').length, 18, 'a series for every reason (a per-CPU array)');
    // Any other socketless packet on the machine counts too: at least N.
    const grew = drops(after) - drops(before);
    t.ok(grew >= N, `no_socket drops: ${grew}, at least ${N}`);
  });

  await t.test('blockio_latency: direct reads and writes of a loop device, request by request', async (t) => {
    const READS = 64;
    const WRITES = 32;
    const name = 'kernscope_blockio_latency_seconds';
    const read = { device: loop.name, operation: 'read' };
    const write = { device: loop.name, operation: 'write' };
    const counts = (s: Sample[]): number[] => [histogramOf(s, name, read).count, histogramOf(s, name, write).count];

    const before = await agent.metrics();
    const dd = async (args: string[]): Promise<void> => {
      const result = await run('dd', ['bs=4096', 'status=none', ...args]);
      t.same({ code: result.code, stderr: result.stderr }, { code: 0, stderr: '' }, `dd ${args.join(' ')}`);
    };
    // Reads are checked before the writes: closing a written device may make udev read it again.
    await dd([`if=${loop.path}`, 'of=/dev/null', 'iflag=direct', `count=${READS}`]);
    const afterReads = await settled(agent, counts);
    await dd(['if=/dev/zero', `of=${loop.path}`, 'oflag=direct', 'conv=notrunc', `count=${WRITES}`]);
    const afterWrites = await settled(agent, counts);
    checkLoaded(t, afterWrites, 'blockio_latency');

    const reads = histogramGrowth(histogramOf(before, name, read), histogramOf(afterReads, name, read));
    const writes = histogramGrowth(histogramOf(afterReads, name, write), histogramOf(afterWrites, name, write));
    t.equal(reads.count, READS, `${loop.name}: one read request per dd block`);
    t.equal(writes.count, WRITES, `${loop.name}: one write request per dd block`);
    t.equal(reads.buckets['+Inf'], READS, 'reads: +Inf bucket == count');
    t.equal(writes.buckets['+Inf'], WRITES, 'writes: +Inf bucket == count');
    t.ok(reads.sum > 0 && writes.sum > 0, `latency sums > 0 (reads ${reads.sum} s, writes ${writes.sum} s)`);
    t.ok(reads.sum < READS && writes.sum < WRITES, 'no request took a second');
  });

  await t.test('exec_argc: five execs of a copied true with 0, 0, 0, 2 and 20 arguments', async (t) => {
    const dir = tempDir(t);
    const binary = copyBinary(dir, 'true', 'ksx-argc');
    const comm = { comm: 'ksx-argc' };
    const histogram = (s: Sample[]): Histogram => histogramOf(s, 'kernscope_exec_arguments', comm);
    const before = await agent.metrics();
    const argumentLists = [[], [], [], ['a', 'b'], Array.from({ length: 20 }, (_, i) => `arg${i}`)];
    for (const args of argumentLists) {
      const result = await run(binary, args);
      t.equal(result.code, 0, `ksx-argc with ${args.length} arguments`);
    }
    // Exec is synchronous with its tracepoint: counted when run() returns; settle anyway.
    const after = await settled(
      agent,
      (s) => histogram(s).count,
      (s) => histogram(s).count >= argumentLists.length,
    );
    checkLoaded(t, after, 'exec_argc');
    // argc counts argv[0]: 1, 1, 1, 3 and 21, which bucket_max 16 takes.
    const expected: Record<string, number> = { '+Inf': 5 };
    for (let le = 0; le <= 16; le++) expected[`${le}`] = (le >= 1 ? 3 : 0) + (le >= 3 ? 1 : 0) + (le >= 16 ? 1 : 0);
    t.same(
      histogramGrowth(histogram(before), histogram(after)),
      { buckets: expected, sum: 27, count: 5 },
      'ksx-argc: buckets, sum and count',
    );
  });

  await t.test(
    'syscall_errors: a copied rmdir fails on three missing paths, a full directory and a file',
    async (t) => {
      const dir = tempDir(t);
      const binary = copyBinary(dir, 'rmdir', 'ksx-rmdir');
      const work = path.join(dir, 'work');
      mkdirSync(path.join(work, 'full'), { recursive: true });
      writeFileSync(path.join(work, 'full', 'inside'), '');
      writeFileSync(path.join(work, 'file'), '');
      // x86_64 has rmdir(2); arm64 has none, and glibc's rmdir() calls unlinkat.
      const labels = { comm: 'ksx-rmdir', syscall: process.arch === 'x64' ? 'rmdir' : 'unlinkat' };
      const byErrno = (s: Sample[]): Record<string, number> =>
        Object.fromEntries(select(s, 'kernscope_syscall_errors_total', labels).map((x) => [x.labels.errno, x.value]));
      const before = await agent.metrics();
      const result = await run(binary, ['nx1', 'nx2', 'nx3', 'full', 'file'], { cwd: work });
      t.equal(result.code, 1, 'ksx-rmdir failed');
      t.equal(result.stderr.trim().split('\n').length, 5, 'ksx-rmdir reported five failures');
      const total = (s: Sample[]): number => Object.values(byErrno(s)).reduce((a, b) => a + b, 0);
      const after = await settled(agent, byErrno, (s) => total(s) - total(before) >= 5);
      checkLoaded(t, after, 'syscall_errors');
      const grew = Object.fromEntries(
        Object.entries(byErrno(after)).map(([errno, value]) => [errno, value - (byErrno(before)[errno] ?? 0)]),
      );
      t.same(grew, { ENOENT: 3, ENOTEMPTY: 1, ENOTDIR: 1 }, `${labels.syscall} errors of ksx-rmdir by errno`);
    },
  );

  await t.test('tcp_requests: 37 connections to a fresh listener are 37 requests on its port', async (t) => {
    const N = 37;
    const before = await agent.metrics();
    const port = await loopbackConnections(N);
    const requests = (s: Sample[]): number => valueIn(s, 'kernscope_tcp_requests_total', { port: `${port}` });
    const after = await settled(agent, requests, (s) => requests(s) - requests(before) >= N);
    checkLoaded(t, after, 'tcp_requests');
    t.equal(requests(after) - requests(before), N, `requests on port ${port}`);
  });

  const exit = await agent.stop('SIGTERM', 5000);
  if (!t.same(exit, { code: 0, signal: null }, 'SIGTERM exits 0 within 5 s')) t.comment(agent.log);
});
