// End to end with a real Prometheus: the agent runs every probe (each with its
// own filter from a config file, see families.ts), Prometheus scrapes it every
// second, known workloads run, and every kernscope_ metric family is checked
// through PromQL against what its workload did. promtool lints /metrics.
//
// The increases are exact: `sum(S) - sum(S @ T0)` evaluated at T1, where T0
// and T1 are the timestamps of real scrapes before and after the workloads,
// is the difference of two scraped values. increase(S[w]) is not used: it
// extrapolates the first and last samples of the window to its edges (and
// ignores a series' first sample), so it is exact only by accident.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import t from 'tap';

import { BUILTIN_PROBES } from '../../src/probes';
import { AgentProcess } from '../helpers/agent';
import { writeConfig } from '../helpers/configFile';
import { httpGet } from '../helpers/net';
import { lines, run } from '../helpers/process';
import { PROMTOOL, PrometheusServer } from '../helpers/prometheus';
import { sleep } from '../helpers/teardown';
import type { Expectation, Facts, PreparedWorkload } from './families';
import { FAMILIES, WORKLOADS } from './families';

function describe(expectation: Expectation): string {
  if ('exactly' in expectation) return `exactly ${expectation.exactly}`;
  if ('atLeast' in expectation) return `at least ${expectation.atLeast} (${expectation.why})`;
  return `${expectation.about} ± ${expectation.within.toPrecision(3)} (${expectation.why})`;
}

function meets(value: number, expectation: Expectation): boolean {
  if ('exactly' in expectation) return value === expectation.exactly;
  if ('atLeast' in expectation) return value >= expectation.atLeast;
  return Math.abs(value - expectation.about) <= expectation.within;
}

void t.test('Prometheus scrapes the agent; every metric family moves as its workload says', async (t) => {
  // Probes that are part of another (exec of process) do not run on their own.
  const probes = BUILTIN_PROBES.filter((p) => !p.subsetOf);
  const attachPoints = probes.reduce((sum, p) => sum + p.attach.length, 0);
  const prepared = new Map<string, PreparedWorkload>();
  const skipped = new Map<string, string>();
  for (const [name, workload] of Object.entries(WORKLOADS)) {
    const why = !probes.some((p) => p.name === workload.probe)
      ? `no ${workload.probe} probe`
      : workload.unavailable?.();
    if (why) skipped.set(name, why);
    else prepared.set(name, await workload.prepare(t));
  }

  const settings = (probe: string): Record<string, unknown> =>
    [...prepared.entries()].find(([name]) => WORKLOADS[name].probe === probe)?.[1].settings ?? {};
  const agentSettings = [...prepared.values()].flatMap((w) => Object.entries(w.agentSettings ?? {}));
  const config = writeConfig(
    t,
    // Every syscall timed: the latency histogram's count is checked exactly.
    'syscall_latency_every: 1\n' +
      agentSettings.map(([key, value]) => `${key}: ${JSON.stringify(value)}\n`).join('') +
      `probes:\n${probes.map((p) => `  ${p.name}: ${JSON.stringify(settings(p.name))}\n`).join('')}`,
  );
  const agent = await AgentProcess.start(t, ['--config', config]);
  const prometheus = await PrometheusServer.start(t, [`127.0.0.1:${agent.port}`]);

  // T0: a scrape after everything is set up and before any workload runs.
  const t0 = await prometheus.scrapeAfter(Date.now(), 15000);
  const facts: Facts = {};
  for (const [name, workload] of prepared) {
    Object.assign(facts, await workload.run());
    t.pass(`workload ${name} ran`);
  }
  await sleep(200); // ring records drain within the 20 ms timer; map counters are read at scrape
  // T1: a scrape after every workload is over.
  const t1 = await prometheus.scrapeAfter(Date.now());
  t.ok(t1 > t0, `scrapes at T0 ${t0} and T1 ${t1}`);

  const body = (await httpGet(agent.port, '/metrics')).body;
  const exported = new Set([...body.matchAll(/^# TYPE (kernscope_\w+) /gm)].map((m) => m[1]));
  for (const family of exported) {
    t.ok(
      FAMILIES.some((e) => e.family === family),
      `${family} has an entry in test/e2e/families.ts (add one with its workload)`,
    );
  }

  for (const entry of FAMILIES) {
    const workloadSkipped = entry.workload !== undefined && skipped.get(entry.workload);
    if (workloadSkipped) {
      t.pass(entry.family, { skip: workloadSkipped });
      continue;
    }
    if (!exported.has(entry.family)) {
      t.fail(`${entry.family} is not on /metrics`);
      continue;
    }
    for (const check of entry.checks) {
      const expr = typeof check.expr === 'string' ? check.expr : check.expr(facts);
      const query =
        check.measure === 'increase'
          ? `(sum(${expr}) or vector(0)) - (sum(${expr} @ ${t0.toFixed(3)}) or vector(0))`
          : expr;
      const value = await prometheus.value(query, t1);
      const expectation = check.expect(facts, { probes: probes.map((p) => p.name), attachPoints });
      t.ok(
        value !== undefined && meets(value, expectation),
        `${check.measure === 'increase' ? 'increase of ' : ''}${expr}: ${value} is ${describe(expectation)}`,
      );
    }
  }

  const file = path.join(os.tmpdir(), `kernscope-metrics-${process.pid}.txt`);
  writeFileSync(file, body);
  t.teardown(() => void run('rm', ['-f', file]));
  const lint = await run('/bin/sh', ['-c', `${PROMTOOL} check metrics < ${file}`]);
  const problems = lines(lint.stdout + lint.stderr);
  t.same(problems, [], 'promtool check metrics reports nothing');
});
