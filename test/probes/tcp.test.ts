// The tcp probe against workloads whose TCP events are known exactly, each run
// in network namespaces the test creates. The probe is loaded in this process
// (ProbeLoader, as the agent does) with its netns filter (targ_netns) set to
// the workload's namespace, so connections of the rest of the machine (this
// test's own loopback traffic included) cannot reach the counts.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawn } from 'node:child_process';
import net from 'node:net';

import t from 'tap';

import { mapFamilies } from '../../src/aggregate/MapMetrics';
import type { MetricFamily } from '../../src/aggregate/MetricFamily';
import type { LoadedProbe } from '../../src/load/ProbeLoader';
import { ProbeLoader } from '../../src/load/ProbeLoader';
import type { AttachKind } from '../../src/native/addon';
import { addon } from '../../src/native/addon';
import { TCP_DIRECTIONS, TCP_RESET_DIRECTIONS, tcpProbe } from '../../src/probes/tcp';
import { AgentProcess } from '../helpers/agent';
import { ATTACH_PREFERENCE, expectedTracing, expectedVariant, featuresFrom, kernelAtLeast } from '../helpers/features';
import type { Sample } from '../helpers/metrics';
import { select, valueOf } from '../helpers/metrics';
import { Netns, must, vethPair } from '../helpers/netns';
import { CLI } from '../helpers/paths';
import { childEnv, runNode } from '../helpers/process';
import type { HasTeardown } from '../helpers/teardown';
import { sleep, waitFor } from '../helpers/teardown';

/** Every kind tcp's variants offer that this kernel can attach, most preferred first: each is forced in turn. */
const KINDS = ATTACH_PREFERENCE.filter(
  (kind) =>
    addon.kernelFeatures().attach[kind].ok && tcpProbe.attach.some((p) => p.variants.some((v) => v.kind === kind)),
);

/**
 * Loads the tcp probe through ProbeLoader with `targ_netns` set (0: every
 * namespace), `kind` forced: the attach points that offer it on it, the
 * others on their first kind after it.
 */
function loadTcp(
  t: HasTeardown,
  netns: number,
  kind: AttachKind = KINDS[0],
): { loaded: LoadedProbe; families: MetricFamily[] } {
  const features = featuresFrom(kind);
  const loaded = new ProbeLoader(features).load(tcpProbe, { ringBytes: 4096, wakeupBytes: 4096, netns });
  t.teardown(() => loaded.object.close());
  for (const { point, variant } of loaded.chosen) {
    const expected = expectedVariant(
      tcpProbe.attach.find((p) => p.name === point)!,
      features,
    );
    if (variant !== expected) throw new Error(`${point} attached ${variant.kind}, not ${expected?.kind}`);
  }
  return {
    loaded,
    families: mapFamilies(loaded.object, tcpProbe.mapMetrics, { limits: { maxSeries: 100, ttlMs: 0 } }),
  };
}

/** The families' series as exposition samples (histograms as _bucket/_sum/_count). */
function samplesOf(families: MetricFamily[]): Sample[] {
  const samples: Sample[] = [];
  for (const family of families) {
    if (family.type !== 'histogram') {
      for (const s of family.collect()) samples.push({ name: family.name, labels: s.labels, value: s.value });
      continue;
    }
    for (const h of family.collect()) {
      let cumulative = 0;
      h.counts.forEach((count, i) => {
        cumulative += count;
        const le = i < h.bounds.length ? String(h.bounds[i]) : '+Inf';
        samples.push({ name: `${family.name}_bucket`, labels: { ...h.labels, le }, value: cumulative });
      });
      samples.push({ name: `${family.name}_sum`, labels: h.labels, value: h.sum });
      samples.push({ name: `${family.name}_count`, labels: h.labels, value: h.count });
    }
  }
  return samples;
}

/** A counter's value, 0 while its series does not exist yet (map entries appear on first use). */
function count(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return valueOf(samples, name, labels) ?? 0;
}

function python(ns: Netns, source: string): Promise<unknown> {
  return ns.exec('python3', ['-c', source]);
}

/** A python process in `ns` whose stdout lines can be awaited and which reads commands on stdin. */
class NetnsPython {
  private output = '';
  private readonly child: ChildProcessWithoutNullStreams;

  constructor(t: HasTeardown, ns: Netns, source: string) {
    const [command, args] = ns.argv('python3', ['-u', '-c', source]);
    this.child = spawn(command, args, { env: childEnv() });
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    t.teardown(() => void this.child.kill('SIGKILL'));
  }

  printed(line: string, timeoutMs = 10000): Promise<true> {
    return waitFor(
      `'${line}' from the workload (output so far: ${JSON.stringify(this.output)})`,
      () => {
        if (this.output.split('\n').includes(line)) return true;
        if (this.child.exitCode !== null) throw new Error(`workload exited ${this.child.exitCode}: ${this.output}`);
        return undefined;
      },
      { timeoutMs },
    );
  }

  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  exited(timeoutMs = 10000): Promise<number> {
    return waitFor('workload exit', () => this.child.exitCode ?? undefined, { timeoutMs });
  }
}

const CONNECT_PAIRS = `
import socket
def pairs(family, host, n):
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.bind((host, 0))
    srv.listen(n)
    port = srv.getsockname()[1]
    for _ in range(n):
        c = socket.socket(family, socket.SOCK_STREAM)
        c.connect((host, port))
        s, _ = srv.accept()
        c.close()
        s.close()
    srv.close()
`;

/** Receiver: accepts one connection on address:5001 and reads until EOF or reset. */
const sinkSource = (address: string): string => `
import socket
srv = socket.socket()
srv.bind(('${address}', 5001))
srv.listen(1)
print('listening')
c, _ = srv.accept()
try:
    while c.recv(1 << 20):
        pass
except ConnectionResetError:
    pass
print('closed')
`;

/** Sender: sends without pause until a line on stdin, then aborts (SO_LINGER 0: RST, socket gone). */
const senderSource = (address: string): string => `
import select, socket, struct, sys
s = socket.create_connection(('${address}', 5001))
s.setblocking(False)
print('connected')
chunk = b'x' * 65536
while True:
    readable, writable, _ = select.select([sys.stdin], [s], [], 0.05)
    if readable:
        sys.stdin.readline()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        s.close()
        print('aborted')
        break
    if writable:
        try:
            s.send(chunk)
        except BlockingIOError:
            pass
`;

/** With TCP_DEFER_ACCEPT the listener ignores the bare ACK and resends its SYN-ACK after ~1 s. */
const DEFERRED_ACCEPT = `
import socket, time
srv = socket.socket()
srv.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
srv.bind(('127.0.0.1', 0))
srv.listen(1)
c = socket.create_connection(srv.getsockname())
time.sleep(1.6)
c.sendall(b'x')
s, _ = srv.accept()
assert s.recv(1) == b'x'
c.close()
s.close()
`;

// Each workload on every kind this kernel can attach (fentry and kprobe reach the connect points only).
for (const kind of KINDS) {
  void t.test(`${kind}: N loopback connect/accept pairs: N outbound, N inbound, N connect latencies`, async (t) => {
    const V4 = 12;
    const V6 = 8;
    const ns = await Netns.create(t);
    const { families } = loadTcp(t, ns.inum, kind);
    const unfiltered = loadTcp(t, 0).families;

    // Loopback connections in this (the test's) namespace meanwhile: the filter must leave them out.
    const OUTSIDE = 5;
    const server = net.createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => void server.close());
    const { port } = server.address() as net.AddressInfo;
    for (let i = 0; i < OUTSIDE; i++) {
      await new Promise<void>((resolve, reject) => {
        const client = net.connect(port, '127.0.0.1');
        client.on('error', reject).on('close', () => resolve());
        client.resume();
      });
    }

    await python(
      ns,
      `${CONNECT_PAIRS}\npairs(socket.AF_INET, '127.0.0.1', ${V4})\npairs(socket.AF_INET6, '::1', ${V6})\n`,
    );
    const samples = samplesOf(families);
    const n = V4 + V6;
    t.equal(count(samples, 'kernscope_tcp_connections_total', { direction: 'outbound' }), n, 'outbound');
    t.equal(count(samples, 'kernscope_tcp_connections_total', { direction: 'inbound' }), n, 'inbound');
    t.equal(count(samples, 'kernscope_tcp_connect_duration_seconds_count'), n, 'one connect latency each');
    const buckets = select(samples, 'kernscope_tcp_connect_duration_seconds_bucket');
    t.same(
      buckets.map((b) => b.labels.le),
      [...Array.from({ length: 11 }, (_, i) => String(2 ** (-18 + 2 * i))), '+Inf'],
      'buckets: slot edges 2^-18 .. 2^2 s, every other octave',
    );
    const sum = count(samples, 'kernscope_tcp_connect_duration_seconds_sum');
    t.ok(sum > 0 && sum < n * 0.25, `latency sum is plausible for loopback (${sum} s for ${n} connects)`);
    t.equal(count(samples, 'kernscope_tcp_connect_failures_total'), 0, 'no connect failed');
    t.equal(select(samples, 'kernscope_tcp_resets_total').length, 0, 'no resets');
    t.equal(count(samples, 'kernscope_tcp_retransmits_total'), 0, 'no retransmits');

    const all = samplesOf(unfiltered);
    const outside = count(all, 'kernscope_tcp_connections_total', { direction: 'outbound' });
    t.ok(outside >= n + OUTSIDE, `unfiltered, the same probe saw this namespace's connects too (${outside})`);
  });

  void t.test(`${kind}: connect to a closed port: one reset each way, one connect failure`, async (t) => {
    const ns = await Netns.create(t);
    const { families } = loadTcp(t, ns.inum, kind);
    await python(
      ns,
      `import socket\ns = socket.socket()\ntry:\n    s.connect(('127.0.0.1', 9))\n    raise SystemExit('connected?')\nexcept ConnectionRefusedError:\n    pass\n`,
    );
    const samples = samplesOf(families);
    t.equal(count(samples, 'kernscope_tcp_resets_total', { direction: 'received' }), 1, 'the client received a RST');
    // The reset answers a SYN no socket owns: tcp_send_reset fires for those since commit 19822a980e19
    // ("trace: tcp: fully support trace_tcp_send_reset", 6.10); older kernels trace resets of sockets only.
    t.equal(
      count(samples, 'kernscope_tcp_resets_total', { direction: 'sent' }),
      kernelAtLeast(6, 10) ? 1 : 0,
      `the stack sent it (no socket): ${kernelAtLeast(6, 10) ? 'traced' : 'not traced before 6.10'}`,
    );
    t.equal(count(samples, 'kernscope_tcp_connect_failures_total'), 1, 'SYN_SENT -> CLOSE');
    t.equal(select(samples, 'kernscope_tcp_connections_total').length, 0, 'nothing established');
    t.equal(count(samples, 'kernscope_tcp_connect_duration_seconds_count'), 0, 'no connect latency observed');
  });

  void t.test(
    `${kind}: retransmits through a veth pair match the kernel RetransSegs of the sending namespace`,
    async (t) => {
      const sender = await Netns.create(t);
      const receiver = await Netns.create(t);
      const subnet = `10.${200 + (process.pid % 50)}.${process.pid % 250}`;
      const veth = await vethPair(t, sender, receiver, subnet);
      // A neighbour entry that survives the receiver's link going down: the sender's packets then just vanish.
      await sender.ip(['neigh', 'replace', `${subnet}.2`, 'lladdr', veth.macB, 'dev', veth.a, 'nud', 'permanent']);
      const { loaded, families } = loadTcp(t, sender.inum, kind);

      const sink = new NetnsPython(t, receiver, sinkSource(`${subnet}.2`));
      await sink.printed('listening');
      const source = new NetnsPython(t, sender, senderSource(`${subnet}.2`));
      await source.printed('connected');
      await sleep(300);
      // Everything the sender sends is dropped (the receiving end is down); it keeps sending and retransmits on timeout.
      await receiver.ip(['link', 'set', veth.b, 'down']);
      await sleep(2000);
      // Back up: recovery retransmits what was lost, GSO skbs of several segments among them.
      await receiver.ip(['link', 'set', veth.b, 'up']);
      await sleep(1500);
      source.send('abort');
      await source.printed('aborted');
      t.equal(await source.exited(), 0, 'sender done; its socket is gone, so nothing retransmits any more');
      await sink.printed('closed');

      const retransSegs = await sender.counter('snmp', 'Tcp', 'RetransSegs');
      const retransFail = await sender.counter('netstat', 'TcpExt', 'TCPRetransFail');
      const samples = samplesOf(families);
      const retransmits = count(samples, 'kernscope_tcp_retransmits_total');
      t.ok(retransmits >= 3, `retransmissions happened (${retransmits})`);
      // Exact on an idle machine. Under load the kernel may skip a tracing program re-entered on the same
      // CPU and counts that in the program's recursion_misses (exported as lost events); and once, under
      // a full CI run, the count was 1 below RetransSegs in 2106 with no missed run (cause not pinned
      // down: a retransmission counted in RetransSegs but reported to the tracepoint as failed, without
      // TCPRetransFail, would do it). So: never above, below by at most the misses plus 0.1%.
      const expected = retransSegs - retransFail;
      const misses = loaded.object.programStats().reduce((sum, p) => sum + p.recursionMisses, 0);
      t.ok(
        retransmits <= expected && retransmits + misses >= Math.floor(expected * 0.999),
        `${retransmits} (+ ${misses} skipped runs) vs the sending namespace's RetransSegs ${retransSegs} minus TCPRetransFail ${retransFail}`,
      );
      t.equal(count(samples, 'kernscope_tcp_connections_total', { direction: 'outbound' }), 1, 'one outbound');
      t.equal(count(samples, 'kernscope_tcp_connections_total', { direction: 'inbound' }), 0, 'inbound is elsewhere');
      // The abort sends one RST; a late segment from the receiver can draw another: the kernel's own count decides.
      const resetsSent = count(samples, 'kernscope_tcp_resets_total', { direction: 'sent' });
      t.ok(resetsSent >= 1, `the abort sent an RST (${resetsSent})`);
      const outRsts = await sender.counter('snmp', 'Tcp', 'OutRsts');
      if (kernelAtLeast(6, 10)) {
        t.equal(resetsSent, outRsts, "equal to the sending namespace's OutRsts");
      } else {
        // A late segment of the aborted connection can draw a reset for no socket: not traced before 6.10 (above).
        t.ok(resetsSent <= outRsts, `at most the sending namespace's OutRsts (${outRsts}; socketless ones untraced)`);
      }
      t.equal(await receiver.counter('snmp', 'Tcp', 'RetransSegs'), 0, 'the receiver retransmitted nothing');
    },
  );

  void t.test(`${kind}: a SYN-ACK retransmission counts, as in RetransSegs`, async (t) => {
    const ns = await Netns.create(t);
    const { families } = loadTcp(t, ns.inum, kind);
    await python(ns, DEFERRED_ACCEPT);
    const samples = samplesOf(families);
    t.equal(await ns.counter('netstat', 'TcpExt', 'TCPSynRetrans'), 1, 'the kernel resent one SYN-ACK');
    t.equal(await ns.counter('snmp', 'Tcp', 'RetransSegs'), 1, 'RetransSegs has it');
    t.equal(count(samples, 'kernscope_tcp_retransmits_total'), 1, 'so has kernscope_tcp_retransmits_total');
    t.equal(count(samples, 'kernscope_tcp_connections_total', { direction: 'outbound' }), 1, 'outbound');
    t.equal(count(samples, 'kernscope_tcp_connections_total', { direction: 'inbound' }), 1, 'inbound (with the data)');
  });
}

void t.test('direction labels follow the enums in the object BTF', (t) => {
  const { loaded } = loadTcp(t, 0);
  t.same(loaded.object.enumValues('ks_tcp_direction'), { KS_TCP_OUTBOUND: 0, KS_TCP_INBOUND: 1 });
  t.same(TCP_DIRECTIONS, ['outbound', 'inbound']);
  t.same(loaded.object.enumValues('ks_tcp_reset_direction'), { KS_TCP_RESET_SENT: 0, KS_TCP_RESET_RECEIVED: 1 });
  t.same(TCP_RESET_DIRECTIONS, ['sent', 'received']);
  t.end();
});

interface ProbeReport {
  probe: string;
  supported: boolean;
  attach: { point: string; kind: string; program: string }[];
  rejected: { point: string; kind: string; reason: string }[];
}

void t.test(
  'each attach point takes the first variant this kernel supports; the others are named with why',
  async (t) => {
    // What the kernel should support, independently of the agent's own detection (see expectedTracing).
    const tracing = expectedTracing();
    const usable = (kind: string): boolean =>
      kind === 'fentry' ? tracing.fentry : kind === 'kprobe' ? tracing.kprobe : true;
    const expected = tcpProbe.attach.map((point) => {
      const chosen = point.variants.findIndex((v) => usable(v.kind));
      return { point: point.name, chosen: point.variants[chosen], skipped: point.variants.slice(0, chosen) };
    });
    const result = await runNode(CLI, ['probes', '--json'], 30000);
    t.equal(result.code, 0, 'probes --json exit 0');
    const tcp = (JSON.parse(result.stdout) as { probes: ProbeReport[] }).probes.find((p) => p.probe === 'tcp');
    t.ok(tcp?.supported, 'tcp is supported on this kernel');
    t.same(
      tcp?.attach.map((a) => [a.point, a.kind, a.program]),
      expected.map((e) => [e.point, e.chosen.kind, e.chosen.program]),
      `each attach point picked its own variant (kprobes ${tracing.kprobe ? 'on' : 'off'}, fentry ${tracing.fentry ? 'on' : 'off'})`,
    );
    for (const { point, skipped } of expected) {
      const rejected = tcp?.rejected.filter((r) => r.point === point) ?? [];
      t.same(
        rejected.map((r) => r.kind),
        skipped.map((v) => v.kind),
        `${point}: ${skipped.map((v) => v.kind).join(' and ') || 'nothing'} rejected`,
      );
      t.ok(
        rejected.every(
          (r) => r.reason.startsWith(`${r.kind} unavailable: `) && r.reason.length > `${r.kind} unavailable: `.length,
        ),
        `${point}: each with the kernel's reason`,
      );
    }

    const agent = await AgentProcess.start(t, ['--probes', 'tcp']);
    const samples = await agent.metrics();
    t.same(
      select(samples, 'kernscope_probe_info', { probe: 'tcp' })
        .map((s) => s.labels.program)
        .sort(),
      expected.map((e) => e.chosen.program).sort(),
      'kernscope_probe_info names the programs in use',
    );
    // Unfiltered, the agent counts the whole machine: its own HTTP connections at least.
    const inbound = await waitFor('an inbound connection counted', async () => {
      const now = await agent.metrics();
      const value = valueOf(now, 'kernscope_tcp_connections_total', { direction: 'inbound' }) ?? 0;
      return value >= 1 ? value : undefined;
    });
    t.ok(inbound >= 1, `the agent's scrapes are inbound connections (${inbound})`);
  },
);

void t.test('cleanup: no namespace or veth of this test is left', async (t) => {
  const { stdout } = await must('ip', ['netns', 'list']);
  t.notMatch(stdout, new RegExp(`kstest-${process.pid}-`), 'no netns left');
  const links = await must('ip', ['-o', 'link', 'show']);
  t.notMatch(links.stdout, new RegExp(`kst${process.pid % 100000}\\d+[ab]`), 'no veth left');
});
