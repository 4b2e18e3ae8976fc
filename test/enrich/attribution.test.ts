// Attribution end to end: real cgroups shaped like a kubelet's (systemd
// driver), processes inside them doing a known number of execs, the agent
// watching pods through a local Kubernetes API server: the exec counts carry
// namespace, pod and container; a pod the API does not know is labelled by
// its UID and container id; a host service by its unit. The OTLP export
// (to a real gRPC receiver) carries them as k8s.* attributes.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import t from 'tap';

import { AgentProcess } from '../helpers/agent';
import { createCgroup, execsIn, nestedCgroup, podSlice } from '../helpers/cgroup';
import { KubeApi } from '../helpers/kubeApi';
import { OtlpReceiver } from '../helpers/otlpReceiver';
import type { Sample } from '../helpers/metrics';
import { valueOf } from '../helpers/metrics';
import { ROOT } from '../helpers/paths';
import { run, spawnClean } from '../helpers/process';
import { waitFor } from '../helpers/teardown';

const KNOWN = { uid: '6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f', id: 'a1'.repeat(32) };
const UNKNOWN = { uid: '9e8d7c6b-5a49-4837-a625-140f2e3d4c5b', id: 'b2'.repeat(32) };

void t.test('exec counts carry namespace, pod and container from the cgroup', async (t) => {
  const root = createCgroup(t, 'kernscope-attr');
  const known = nestedCgroup(t, root, podSlice(KNOWN.uid), `cri-containerd-${KNOWN.id}.scope`);
  const unknown = nestedCgroup(t, root, podSlice(UNKNOWN.uid), `cri-containerd-${UNKNOWN.id}.scope`);
  const service = nestedCgroup(t, root, 'demo.service');

  const api = await KubeApi.start(t);
  api.put({ uid: KNOWN.uid, namespace: 'shop', name: 'web-1', node: 'node-a', containers: { app: KNOWN.id } });
  const receiver = await OtlpReceiver.start(t);
  const agent = await AgentProcess.start(
    t,
    [...['--probes', 'exec', '--cgroup', root], ...['--kubeconfig', api.kubeconfig, '--node-name', 'node-a']],
    { env: { KERNSCOPE_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`, OTEL_METRIC_EXPORT_INTERVAL: '500' } },
  );
  await waitFor('the pod watch', () => (/watching pods/.test(agent.log) ? true : undefined), { timeoutMs: 10000 });

  await execsIn(known, 30);
  await execsIn(unknown, 20);
  await execsIn(service, 10);

  const execs = (samples: Sample[], labels: Record<string, string>) =>
    valueOf(samples, 'kernscope_process_execs_total', labels) ?? 0;
  const expected: [Record<string, string>, number, string][] = [
    [{ namespace: 'shop', pod: 'web-1', container: 'app' }, 30, 'a known pod: names from the API'],
    [{ namespace: '', pod: UNKNOWN.uid, container: UNKNOWN.id.slice(0, 12) }, 20, 'an unknown pod: its UID'],
    [{ namespace: 'host', pod: '', container: 'demo.service' }, 10, 'a host service: its unit'],
  ];
  const samples = await waitFor('every exec counted', async () => {
    const s = await agent.metrics();
    return expected.every(([labels, count]) => execs(s, labels) === count) ? s : undefined;
  });
  for (const [labels, count, what] of expected) t.equal(execs(samples, labels), count, what);

  // OTLP: the same series under OpenTelemetry's names; a host service keeps its labels.
  const otlp: [Record<string, string>, number][] = [
    [
      { 'k8s.namespace.name': 'shop', 'k8s.pod.name': 'web-1', 'k8s.pod.uid': KNOWN.uid, 'k8s.container.name': 'app' },
      30,
    ],
    [{ 'k8s.pod.uid': UNKNOWN.uid, 'container.id': UNKNOWN.id }, 20],
    [{ namespace: 'host', container: 'demo.service' }, 10],
  ];
  const nonEmpty = (attributes: Record<string, unknown>) =>
    JSON.stringify(
      Object.entries(attributes)
        .filter(([, v]) => v !== '')
        .sort(([a], [b]) => (a < b ? -1 : 1)),
    );
  const points = await waitFor('every exec exported over OTLP', () => {
    const received = receiver.latestMetrics().get('kernscope.process.execs')?.points ?? [];
    const byAttributes = new Map(received.map((p) => [nonEmpty(p.attributes), p.value]));
    return otlp.every(([attributes, count]) => byAttributes.get(nonEmpty(attributes)) === count)
      ? byAttributes
      : undefined;
  });
  for (const [attributes, count] of otlp) t.equal(points.get(nonEmpty(attributes)), count, nonEmpty(attributes));
});

void t.test('a user probe label decoded with cgroup keeps its path and gains namespace, pod, container', async (t) => {
  const root = createCgroup(t, 'kernscope-attr');
  const known = nestedCgroup(t, root, podSlice(KNOWN.uid), `cri-containerd-${KNOWN.id}.scope`);
  const api = await KubeApi.start(t);
  api.put({ uid: KNOWN.uid, namespace: 'shop', name: 'web-1', node: 'node-a', containers: { app: KNOWN.id } });
  const receiver = await OtlpReceiver.start(t);
  const agent = await AgentProcess.start(
    t,
    [
      ...['--probe-dir', path.join(ROOT, 'examples'), '--probes', 'sched_migrations'],
      ...['--kubeconfig', api.kubeconfig, '--node-name', 'node-a'],
    ],
    { env: { KERNSCOPE_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`, OTEL_METRIC_EXPORT_INTERVAL: '500' } },
  );
  await waitFor('the pod watch', () => (/watching pods/.test(agent.log) ? true : undefined), { timeoutMs: 10000 });

  // A busy process in the container's cgroup, moved between CPU 0 and 1: each move is a migration.
  const busy = spawnClean('/bin/sh', ['-c', `echo $$ > ${known}/cgroup.procs; while :; do :; done`]);
  t.teardown(() => busy.kill('SIGKILL'));
  await waitFor('the process in its cgroup', () =>
    readFileSync(path.join(known, 'cgroup.procs'), 'utf8').trim() !== '' ? true : undefined,
  );
  const MOVES = 40;
  let failed = 0;
  for (let i = 0; i < MOVES; i++) {
    if ((await run('taskset', ['-pc', String(i % 2), String(busy.pid)])).code !== 0) failed++;
  }
  t.equal(failed, 0, `${MOVES} moves between CPU 0 and 1`);

  // Each move migrates the task, but the first when it already ran on CPU 0.
  const labels = { cgroup: known, namespace: 'shop', pod: 'web-1', container: 'app' };
  let seen: Sample[] = [];
  const migrations = await waitFor(
    'the migrations counted',
    async () => {
      seen = await agent.metrics();
      const value = valueOf(seen, 'kernscope_sched_migrations_total', labels) ?? 0;
      return value >= MOVES - 1 ? value : undefined;
    },
    { timeoutMs: 15000 },
  ).catch((error: Error) => {
    t.comment(seen.filter((s) => s.name === 'kernscope_sched_migrations_total'));
    throw error;
  });
  t.ok(migrations >= MOVES - 1, `a migration per move (${migrations})`);

  // OTLP: the same series, the pod under OpenTelemetry's names, the cgroup path kept.
  const exported = await waitFor('the migrations exported over OTLP', () => {
    const points = receiver.latestMetrics().get('kernscope.sched.migrations')?.points ?? [];
    return points.find((p) => p.attributes.cgroup === known && (p.value as number) >= MOVES - 1);
  });
  t.match(exported.attributes, { 'k8s.namespace.name': 'shop', 'k8s.pod.name': 'web-1', 'k8s.container.name': 'app' });
});
