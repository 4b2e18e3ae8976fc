// The Grafana dashboards in dashboards/: type-checked against Grafana's own
// model of a dashboard (@grafana/schema, see helpers/dashboardSchema.ts) and
// held to the structural rules Grafana needs; then every panel query and
// every template-variable query runs against a real Prometheus scraping the
// agent (every probe, --bpf-stats, OTLP on towards a closed port) while the
// workloads of families.ts move every family, the way Grafana would send them:
// variables substituted, at an instant after the workloads. A pod (a
// kubelet-shaped cgroup, named by a local Kubernetes API) execs too, so the
// namespace and pod variables have a pod to list.
import path from 'node:path';

import t from 'tap';

import { histogramsOf } from '../../src/config/probeOptions';
import { BUILTIN_PROBES } from '../../src/probes';

import { AgentProcess } from '../helpers/agent';
import { createCgroup, execsIn, nestedCgroup, podSlice } from '../helpers/cgroup';
import { checkDashboardTypes } from '../helpers/dashboardSchema';
import type { PanelJson, TargetJson } from '../helpers/dashboards';
import {
  loadDashboards,
  panelsOf,
  parseLabelValues,
  regexEscape,
  selectorsOf,
  structuralProblems,
  substitute,
  variableQuery,
  variablesOf,
} from '../helpers/dashboards';
import { KubeApi } from '../helpers/kubeApi';
import { PrometheusServer } from '../helpers/prometheus';
import { freePort } from '../helpers/net';
import { sleep, waitFor } from '../helpers/teardown';
import type { PreparedWorkload } from './families';
import { FAMILIES, WORKLOADS } from './families';

/** The `node` target label Prometheus adds, as the ServiceMonitor does from __meta_kubernetes_pod_node_name. */
const NODE = 'e2e-node-1';

const POD = { uid: '3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a9f', id: 'c3'.repeat(32), namespace: 'shop', name: 'web-1' };
/** What the namespace and pod variables must list: the pod's. */
const POD_VARIABLES: Record<string, string> = { namespace: POD.namespace, pod: POD.name };

const dashboards = loadDashboards();

/** Histogram families by their own name: a query on one reads it as a native histogram. */
const HISTOGRAMS = new Set(BUILTIN_PROBES.flatMap(histogramsOf).map((h) => h.name));

function clone(json: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(json)) as Record<string, unknown>;
}

function firstOfType(json: Record<string, unknown>, type: string): PanelJson & Record<string, unknown> {
  const panel = panelsOf(json).find((p) => p.type === type);
  if (!panel) throw new Error(`no ${type} panel`);
  return panel as PanelJson & Record<string, unknown>;
}

void t.test('the dashboards type-check against @grafana/schema and follow the structural rules', (t) => {
  t.same(
    dashboards.map((d) => path.basename(d.file)),
    ['agent-health.json', 'latency.json', 'network.json', 'node-overview.json'],
    'four dashboards',
  );
  t.equal(new Set(dashboards.map((d) => d.json.uid)).size, dashboards.length, 'uids are unique');
  t.equal(new Set(dashboards.map((d) => d.json.title)).size, dashboards.length, 'titles are unique');

  // Controls: one defect each, so the type check is seen to fail where Grafana's types say no.
  const base = dashboards[0].json;
  const defects: { what: string; expect: string; mutate: (d: Record<string, unknown>) => void }[] = [
    {
      what: 'a gridPos without h',
      expect: "'h' is missing",
      mutate: (d) => delete firstOfType(d, 'timeseries').gridPos!.h,
    },
    { what: 'an unknown dashboard key', expect: 'pannels', mutate: (d) => (d.pannels = []) },
    {
      what: 'a legend placement outside the enum',
      expect: '"top"',
      mutate: (d) =>
        ((firstOfType(d, 'timeseries').options as { legend: { placement: string } }).legend.placement = 'top'),
    },
    {
      what: 'a misspelt query key',
      expect: 'exprr',
      mutate: (d) => ((firstOfType(d, 'timeseries').targets as (TargetJson & { exprr?: string })[])[0].exprr = 'up'),
    },
  ];
  const controls = defects.map(({ what, mutate }) => {
    const json = clone(base);
    mutate(json);
    return { file: `control: ${what}`, text: JSON.stringify(json, null, 2) };
  });
  const results = checkDashboardTypes([...dashboards, ...controls]);
  for (const { file, errors } of results.slice(0, dashboards.length)) {
    t.same(errors, [], `${path.basename(file)} is a Json<KernscopeDashboard> and a Json<Dashboard> of @grafana/schema`);
  }
  defects.forEach(({ what, expect }, i) => {
    const { errors } = results[dashboards.length + i];
    t.ok(
      errors.some((e) => e.includes(expect)),
      `the type check rejects ${what}: ${errors[0] ?? 'no error'}`,
    );
  });

  for (const { file, json } of dashboards) {
    t.same(structuralProblems(json), [], `${path.basename(file)} follows the structural rules`);
  }
  const broken = clone(base);
  const [first, second] = panelsOf(broken).filter((p) => p.type === 'timeseries');
  second.id = first.id;
  first.targets![0].expr = 'sum(rate(kernscope_syscalls_total[5m]))';
  const problems = structuralProblems(broken);
  for (const [what, pattern] of [
    ['a repeated panel id', /id used twice/],
    ['a fixed range', /range \[5m\]/],
    ['a selector without the node filter', /not filtered by node/],
    ['an attributed family without the namespace and pod filters', /not filtered by namespace/],
  ] as const) {
    t.ok(
      problems.some((p) => pattern.test(p)),
      `the structural rules reject ${what}`,
    );
  }
  t.end();
});

void t.test('every panel and variable query returns data from Prometheus scraping the agent', async (t) => {
  const prepared = new Map<string, PreparedWorkload>();
  const skipped = new Map<string, string>();
  for (const [name, workload] of Object.entries(WORKLOADS)) {
    const why = workload.unavailable?.();
    if (why) skipped.set(name, why);
    else prepared.set(name, await workload.prepare(t));
  }

  const podCgroup = nestedCgroup(
    t,
    createCgroup(t, 'kernscope-dash'),
    podSlice(POD.uid),
    `cri-containerd-${POD.id}.scope`,
  );
  const api = await KubeApi.start(t);
  api.put({ uid: POD.uid, namespace: POD.namespace, name: POD.name, node: NODE, containers: { app: POD.id } });

  // Unfiltered, as the dashboards expect an agent to run, with every probe the panels read (the per-syscall
  // ones too, which the default set leaves out); OTLP pushes to a port nobody listens on, so failures count.
  const closedPort = await freePort();
  const agent = await AgentProcess.start(
    t,
    [
      ...['--probes', BUILTIN_PROBES.map((p) => p.name).join(',')],
      ...['--bpf-stats', '--otlp-endpoint', `http://127.0.0.1:${closedPort}`],
      ...['--kubeconfig', api.kubeconfig, '--node-name', NODE],
    ],
    { env: { OTEL_METRIC_EXPORT_INTERVAL: '1000', OTEL_METRIC_EXPORT_TIMEOUT: '900' } },
  );
  await waitFor('the pod watch', () => (/watching pods/.test(agent.log) ? true : undefined), { timeoutMs: 10000 });
  const prometheus = await PrometheusServer.start(t, [`127.0.0.1:${agent.port}`], { labels: { node: NODE } });
  // Panels on native histograms query a Prometheus that scrapes them (protobuf, native histograms on).
  const nativePrometheus = await PrometheusServer.start(t, [`127.0.0.1:${agent.port}`], {
    labels: { node: NODE },
    features: ['native-histograms'],
  });

  const t0 = await prometheus.scrapeAfter(Date.now(), 15000);
  for (const [name, workload] of prepared) {
    await workload.run();
    t.pass(`workload ${name} ran`);
  }
  await execsIn(podCgroup, 5);
  await sleep(200); // ring records drain within the 20 ms timer; map counters are read at scrape
  const t1 = await prometheus.scrapeAfter(Date.now());

  // A range window that spans every workload: the dashboard zoomed to the minute they ran in.
  const window = `${Math.ceil(t1 - t0) + 2}s`;
  const values: Record<string, string> = {
    node: regexEscape(NODE),
    namespace: '.*',
    pod: '.*',
    __rate_interval: window,
    __interval: '1s',
    __range: window,
  };

  const skippedWorkloadOf = (expr: string): string | undefined => {
    for (const { metric } of selectorsOf(expr)) {
      const entry = FAMILIES.find((f) => metric === f.family || metric.startsWith(`${f.family}_`));
      const why = entry?.workload && skipped.get(entry.workload);
      if (why) return why;
    }
    return undefined;
  };

  for (const { file, json } of dashboards) {
    const name = path.basename(file);
    for (const panel of panelsOf(json)) {
      if (panel.type === 'row') continue;
      for (const target of panel.targets ?? []) {
        const expr = substitute(String(target.expr), values);
        const what = `${name} "${String(panel.title)}" ${String(target.refId)}`;
        const why = skippedWorkloadOf(expr);
        if (why) {
          t.pass(what, { skip: why });
          continue;
        }
        if (selectorsOf(expr).some(({ metric }) => HISTOGRAMS.has(metric))) {
          await nativePrometheus.scrapeAfter(t1 * 1000);
          const native = await nativePrometheus.query(expr, t1);
          const counts = native.map((s) => Number(s.histogram?.[1].count));
          t.ok(
            counts.length > 0 && counts.every((n) => n > 0),
            `${what}: native histograms ${counts.join(', ')} for ${expr}`,
          );
          continue;
        }
        const result = await prometheus.query(expr, t1);
        const finite = result.filter((s) => Number.isFinite(Number(s.value[1])));
        if (panel.type === 'heatmap') {
          t.ok(result.length > 0, `${what}: ${result.length} buckets for ${expr}`);
        } else {
          t.ok(finite.length > 0, `${what}: ${finite.length} of ${result.length} series finite for ${expr}`);
        }
      }
    }

    for (const variable of variablesOf(json)) {
      if (variable.type !== 'query') continue;
      const query = variableQuery(variable)!;
      const { match, label } = parseLabelValues(query)!;
      const selector = match === undefined ? undefined : substitute(match, values);
      const got = await prometheus.labelValues(label, selector, t0, t1);
      const what = `${name} variable ${String(variable.name)}: ${query}`;
      if (variable.name === 'node') {
        // The agent's own kernscope_build_info{node} (the Node.js version) becomes exported_node under the target label.
        t.same(got, [NODE], `${what} lists the target's node label`);
        continue;
      }
      const expected = POD_VARIABLES[String(variable.name)];
      if (expected) t.ok(got.includes(expected), `${what} lists ${expected}: ${JSON.stringify(got)}`);
      else t.ok(got.length > 0, `${what} lists ${JSON.stringify(got)}`);
    }
  }
});
