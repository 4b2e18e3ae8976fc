// The tcp probe's trace records (`kernscope trace tcp`), through each attach
// variant that loads here: in a fresh network namespace (the probe's netns
// filter), a python3 process makes N loopback connect/accept pairs and one
// connect to a closed port, over IPv4 and IPv6. Each event must send exactly
// one record: the connects, that failure and the reset it received naming
// python3 as the socket's owner, the accepts and the reset the stack sent
// naming none. A resent SYN-ACK is one retransmit record. None with tracing
// off (the agent), none under a minimum latency no connect reaches, only
// connects under any minimum, and only python3's sockets with a comm filter.
import t from 'tap';

import { mapFamilies } from '../../src/aggregate/MapMetrics';
import type { Sample } from '../../src/aggregate/MetricFamily';
import { RecordLayout } from '../../src/decode/RecordLayout';
import { RingDrain } from '../../src/drain/RingDrain';
import { ensureTracefs } from '../../src/kernel/tracefs';
import type { LoadSettings } from '../../src/load/ProbeLoader';
import { ProbeLoader } from '../../src/load/ProbeLoader';
import type { AttachKind } from '../../src/native/addon';
import { addon } from '../../src/native/addon';
import { AF_INET, AF_INET6, ipv6, socketAddress } from '../../src/probes/addresses';
import { TCP_TRACE_EVENTS, tcpProbe } from '../../src/probes/tcp';
import { toEvent } from '../../src/trace/TraceFormat';
import { sumU64, u32 } from '../helpers/bytes';
import { featuresFrom } from '../helpers/features';
import { Netns } from '../helpers/netns';
import type { DecodedRecord } from '../helpers/recordCollector';
import { RecordCollector } from '../helpers/recordCollector';
import type { HasTeardown } from '../helpers/teardown';

const PAIRS = 12;
const TEN_SECONDS_NS = 10e9;
const TRACE = tcpProbe.trace!;
const RECORD = tcpProbe.record!;
const KINDS = ['tp_btf', 'tracepoint'] as const;

// Classic tracepoints need tracefs (the trace command mounts it the same way).
const tracefsNote = ensureTracefs();

/**
 * PAIRS connect/accept pairs on `host` (argv[1]), each closed with FINs, then
 * a connect to its closed port 9 (refused: a RST each way). Prints its pid,
 * the server's port and the clients' ports.
 */
const PAIRS_AND_REFUSED = `
import os, socket, sys
host = sys.argv[1]
srv = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
srv.bind((host, 0))
srv.listen(${PAIRS})
port = srv.getsockname()[1]
clients = []
for _ in range(${PAIRS}):
    c = socket.create_connection((host, port))
    clients.append(c.getsockname()[1])
    s, _ = srv.accept()
    c.close()
    s.close()
srv.close()
try:
    socket.create_connection((host, 9))
    raise SystemExit('port 9 accepted a connection')
except ConnectionRefusedError:
    pass
print(os.getpid(), port, *clients)
`;

/**
 * With TCP_DEFER_ACCEPT the listener ignores the bare ACK and resends its
 * SYN-ACK after ~1 s; the data then completes the accept. Prints its pid, the
 * server's port and the client's.
 */
const DEFERRED_ACCEPT = `
import os, socket, time
srv = socket.socket()
srv.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
srv.bind(('127.0.0.1', 0))
srv.listen(1)
c = socket.create_connection(srv.getsockname())
time.sleep(1.6)
c.sendall(b'x')
s, _ = srv.accept()
assert s.recv(1) == b'x'
print(os.getpid(), srv.getsockname()[1], c.getsockname()[1])
c.close()
s.close()
`;

interface Traced {
  ns: Netns;
  /** The numbers the workload printed: its pid, the server's port, the clients' ports. */
  pid: number;
  port: number;
  clients: number[];
  records: DecodedRecord[];
  /** `event pid comm local remote` of each record, through the trace's own columns, sorted. */
  lines: string[];
  /** Outbound connections the probe's maps counted (the agent's metric). */
  outbound: number;
  drops: number;
  /** enum ks_record_type's value of the trace record, from the object's BTF. */
  recordType: number | undefined;
}

/** Runs a python3 workload in a fresh namespace under the tcp probe as `kind`, filtered to that namespace. */
async function traceWorkload(
  t: HasTeardown,
  kind: AttachKind,
  settings: Pick<LoadSettings, 'trace' | 'comm'>,
  workload: string[] = [PAIRS_AND_REFUSED, '127.0.0.1'],
): Promise<Traced> {
  const ns = await Netns.create(t);
  const loaded = new ProbeLoader(featuresFrom(kind)).load(tcpProbe, {
    ringBytes: 1 << 16,
    wakeupBytes: 1 << 16,
    netns: ns.inum,
    ...settings,
  });
  const collector = new RecordCollector();
  const drain = new RingDrain(loaded.object, collector.sink, { intervalMs: 1000 });
  t.teardown(() => {
    drain.stop();
    loaded.object.close();
  });
  const other = loaded.chosen.find((c) => c.variant.kind !== kind);
  if (other) throw new Error(`${other.point} attached ${other.variant.kind}, not ${kind}`);

  // Every event happens before the syscall that causes it returns: all are in the ring once python exits.
  const { stdout } = await ns.exec('python3', ['-c', ...workload]);
  const [pid, port, ...clients] = stdout.trim().split(' ').map(Number);
  drain.drain();
  const records = collector.decoded(RecordLayout.fromObject(loaded.object, RECORD.struct));
  const lines = records
    .map((r) => toEvent('tcp', TRACE, r, 0))
    .map((e) => `${e.fields.event} ${e.pid} ${e.comm} ${e.fields.local} ${e.fields.remote}`)
    .sort();
  const connections = mapFamilies(loaded.object, tcpProbe.mapMetrics, { limits: { maxSeries: 100, ttlMs: 0 } }).find(
    (f) => f.name === 'kernscope_tcp_connections_total',
  )!;
  const outbound = (connections.collect() as Sample[]).find((s) => s.labels.direction === 'outbound')?.value ?? 0;
  return {
    ns,
    pid,
    port,
    clients,
    records,
    lines,
    outbound,
    drops: sumU64(loaded.object.lookup('drops', u32(0))!),
    recordType: loaded.object.enumValues('ks_record_type')[RECORD.type],
  };
}

/** The refused connect's local port, as its record says (the workload cannot know it). */
function failedPort(run: Traced): number | undefined {
  return run.records.find((r) => r.event === TCP_TRACE_EVENTS.indexOf('connect_failed'))?.local_port as number;
}

/** `addr:port` on `host`, `[addr]:port` for IPv6. */
function endOn(host: string): (port: number | undefined) => string {
  return (port) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
}

/** The lines of these kinds of event of PAIRS_AND_REFUSED, as Traced.lines has them. */
function linesOf(run: Traced, host: string, kinds: string[]): string[] {
  const end = endOn(host);
  const failed = failedPort(run);
  const owner = `${run.pid} python3`;
  const lines = {
    connect: run.clients.map((client) => `connect ${owner} ${end(client)} ${end(run.port)}`),
    accept: run.clients.map((client) => `accept 0  ${end(run.port)} ${end(client)}`),
    connect_failed: [`connect_failed ${owner} ${end(failed)} ${end(9)}`],
    reset_received: [`reset_received ${owner} ${end(failed)} ${end(9)}`],
    reset_sent: [`reset_sent 0  ${end(9)} ${end(failed)}`],
  } as Record<string, string[]>;
  return kinds.flatMap((kind) => lines[kind]).sort();
}

const EVERY_EVENT = ['connect', 'accept', 'connect_failed', 'reset_received', 'reset_sent'];

for (const kind of KINDS) {
  const skip = kind === 'tracepoint' && tracefsNote ? tracefsNote : false;

  for (const host of ['127.0.0.1', '::1']) {
    void t.test(`${kind}, ${host}: one record per event; python3 owns what it connected`, { skip }, async (t) => {
      const run = await traceWorkload(t, kind, { trace: { minLatencyNs: 0, skipTgid: 0 } }, [PAIRS_AND_REFUSED, host]);
      t.equal(run.clients.length, PAIRS, 'the workload made its connections');
      t.equal(await run.ns.counter('snmp', 'Tcp', 'OutRsts'), 1, 'the namespace sent one reset (the refused connect)');
      t.same(run.lines, linesOf(run, host, EVERY_EVENT), `${PAIRS} connects and accepts, a refused connect`);
      // At CLOSE the kernel has released the port (skc_num 0); the record reads inet_sport.
      t.not(failedPort(run), 0, 'the failed connect has its local port');
      t.same(
        [...new Set(run.records.map((r) => [r['hdr.type'], r['hdr.version'], r.family].join(' ')))],
        [`${run.recordType} 1 ${host.includes(':') ? AF_INET6 : AF_INET}`],
        'record type, layout version and address family',
      );
      const timed = new Set(['connect', 'connect_failed']);
      t.same(
        run.records.filter((r) => (r.latency_ns as number) > 0 !== timed.has(TCP_TRACE_EVENTS[r.event as number])),
        [],
        'a latency on connects and the failed connect, 0 on everything else',
      );
      const connect = run.records.find((r) => r.event === TCP_TRACE_EVENTS.indexOf('connect'))!;
      t.equal(
        toEvent('tcp', TRACE, connect, 0).fields.latency_ms,
        Math.round((connect.latency_ns as number) / 1e3) / 1e3,
        'latency_ms is latency_ns in ms, to the microsecond',
      );
      t.equal(run.outbound, PAIRS, 'the metrics count the same connects');
      t.equal(run.drops, 0, 'nothing lost');
    });
  }

  void t.test(`${kind}: a SYN-ACK resent (TCP_DEFER_ACCEPT): one retransmit, of the request`, { skip }, async (t) => {
    const run = await traceWorkload(t, kind, { trace: { minLatencyNs: 0, skipTgid: 0 } }, [DEFERRED_ACCEPT]);
    t.equal(await run.ns.counter('snmp', 'Tcp', 'RetransSegs'), 1, 'the kernel resent one segment');
    const [server, client] = [run.port, run.clients[0]].map(endOn('127.0.0.1'));
    t.same(
      run.lines,
      [
        `accept 0  ${server} ${client}`,
        `connect ${run.pid} python3 ${client} ${server}`,
        `retransmit 0  ${server} ${client}`,
      ],
      "a connect, the listener's retransmit for it (owner unknown), the accept",
    );
  });

  void t.test(`${kind}: tracing off (the agent): no record at all`, { skip }, async (t) => {
    const run = await traceWorkload(t, kind, {});
    t.equal(run.outbound, PAIRS, 'the connects are counted');
    t.same(run.records, [], 'no record');
  });

  void t.test(`${kind}: minimum latency of 10 s: no record at all`, { skip }, async (t) => {
    const run = await traceWorkload(t, kind, { trace: { minLatencyNs: TEN_SECONDS_NS, skipTgid: 0 } });
    t.equal(run.outbound, PAIRS, 'the connects are counted');
    t.same(run.records, [], 'no record');
  });

  void t.test(`${kind}: minimum latency of 1 ns: the connects only`, { skip }, async (t) => {
    const run = await traceWorkload(t, kind, { trace: { minLatencyNs: 1, skipTgid: 0 } });
    t.same(run.lines, linesOf(run, '127.0.0.1', ['connect', 'connect_failed']), 'connects and the failed one');
  });

  void t.test(`${kind}: comm filter python3: the events of python3's sockets only`, { skip }, async (t) => {
    const run = await traceWorkload(t, kind, { trace: { minLatencyNs: 0, skipTgid: 0 }, comm: 'python3' });
    t.same(
      run.lines,
      linesOf(run, '127.0.0.1', ['connect', 'connect_failed', 'reset_received']),
      'no accept nor the stack-sent reset: their owner is unknown',
    );
  });
}

void t.test('event names follow enum tcp_trace_event in the object BTF', (t) => {
  const loaded = new ProbeLoader(addon.kernelFeatures()).load(tcpProbe, { ringBytes: 4096, wakeupBytes: 4096 });
  t.teardown(() => loaded.object.close());
  t.same(loaded.object.enumValues('tcp_trace_event'), {
    KS_TCP_TRACE_CONNECT: 0,
    KS_TCP_TRACE_CONNECT_FAILED: 1,
    KS_TCP_TRACE_ACCEPT: 2,
    KS_TCP_TRACE_RETRANSMIT: 3,
    KS_TCP_TRACE_RESET_SENT: 4,
    KS_TCP_TRACE_RESET_RECEIVED: 5,
  });
  t.same(TCP_TRACE_EVENTS, ['connect', 'connect_failed', 'accept', 'retransmit', 'reset_sent', 'reset_received']);
  t.end();
});

void t.test('socket addresses: dotted IPv4, RFC 5952 IPv6 in brackets', (t) => {
  const v6 = (...groups: number[]): Uint8Array => {
    const bytes = new Uint8Array(16);
    groups.forEach((g, i) => new DataView(bytes.buffer).setUint16(2 * i, g));
    return bytes;
  };
  const v4 = Uint8Array.of(10, 0, 255, 1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9);
  t.equal(socketAddress(AF_INET, v4, 443), '10.0.255.1:443', 'IPv4: the first 4 bytes');
  t.equal(socketAddress(AF_INET6, v6(0, 0, 0, 0, 0, 0, 0, 1), 80), '[::1]:80');
  t.equal(socketAddress(7, v4, 80), '?:80', 'another family: the port only');
  const cases: [number[], string][] = [
    [[0, 0, 0, 0, 0, 0, 0, 0], '::'],
    [[0xfe80, 0, 0, 0, 0x1, 0x2, 0x3, 0x4], 'fe80::1:2:3:4'],
    [[0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], '2001:db8::1:0:0:1'], // the first of two equal runs
    [[0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], '2001:db8:0:1:1:1:1:1'], // one zero group stays
    [[0x2001, 0, 0, 1, 0, 0, 0, 1], '2001:0:0:1::1'], // the longest run
    [[1, 0, 0, 0, 0, 0, 0, 0], '1::'],
    [[0xabcd, 0xef01, 0x2345, 0x6789, 0xabcd, 0xef01, 0x2345, 0x6789], 'abcd:ef01:2345:6789:abcd:ef01:2345:6789'],
    [[0, 0, 0, 0, 0, 0xffff, 0x7f00, 0x0001], '::ffff:127.0.0.1'], // IPv4-mapped
    [[0, 0, 0, 0, 0, 0xfffe, 0x7f00, 0x0001], '::fffe:7f00:1'],
  ];
  for (const [groups, text] of cases) t.equal(ipv6(v6(...groups)), text, text);
  t.end();
});
