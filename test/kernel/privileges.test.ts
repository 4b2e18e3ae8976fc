// requiredCapabilities() proven on the running kernel. setpriv leaves the
// agent (uid 0) exactly the capabilities asked for: every other one is removed
// from the inheritable, ambient and bounding sets, so it is gone after exec.
// With the set named for an option profile every probe attaches; without any
// one of them the agent fails or a probe is down. `kernscope run` checks its
// capabilities before loading anything, so each missing one is also put to
// the kernel itself: the Agent class loads the probes in a child that skips
// that check. The start-up check names exactly the missing capabilities.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import t from 'tap';

import type { AgentOptions } from '../../src/config/AgentOptions';
import { DEFAULT_OPTIONS } from '../../src/config/AgentOptions';
import { validateOptions } from '../../src/config/validateOptions';
import type { Capability } from '../../src/kernel/capabilities';
import { capabilityMask } from '../../src/kernel/capabilities';
import { kernelPrivileges, neededAfterAttach, requiredCapabilities } from '../../src/kernel/privileges';
import { BUILTIN_PROBES } from '../../src/probes';
import type { Sample } from '../helpers/metrics';
import { parseMetrics, select, sumOf } from '../helpers/metrics';
import { freePort, httpGet } from '../helpers/net';
import { CLI, ROOT } from '../helpers/paths';
import type { Exit } from '../helpers/process';
import { lines, run, spawnClean, waitExit } from '../helpers/process';
import type { HasTeardown } from '../helpers/teardown';
import { sleep, waitFor } from '../helpers/teardown';

interface Profile {
  name: string;
  options: AgentOptions;
  args: string[];
}

/** Every probe, the per-syscall ones (not in the default set) included. */
const EVERY_PROBE = BUILTIN_PROBES.map((p) => p.name);

const PROFILES: Profile[] = [
  {
    name: 'default options, every probe',
    options: validateOptions({ ...DEFAULT_OPTIONS, probes: EVERY_PROBE }),
    args: ['--probes', EVERY_PROBE.join(',')],
  },
  {
    name: '--bpf-stats',
    options: validateOptions({ ...DEFAULT_OPTIONS, probes: EVERY_PROBE, bpfStats: true }),
    args: ['--probes', EVERY_PROBE.join(','), '--bpf-stats'],
  },
];

/** setpriv arguments that leave exactly `caps`, across exec. */
function setprivArgs(caps: readonly Capability[]): string[] {
  const set = ['-all', ...caps.map((c) => `+${c.toLowerCase()}`)].join(',');
  return [`--inh-caps=${set}`, `--ambient-caps=${set}`, `--bounding-set=${set}`];
}

function effectiveCapabilities(pid: number): bigint {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('CapEff:'));
  return BigInt(`0x${line!.slice('CapEff:'.length).trim()}`);
}

type AgentRun =
  | { served: true; samples: Sample[]; ready: boolean; effective: bigint; log: string }
  | { served: false; exit: Exit; log: string };

async function metricsBody(port: number): Promise<string | undefined> {
  try {
    const { status, body } = await httpGet(port, '/metrics');
    return status === 200 ? body : undefined;
  } catch {
    return undefined; // not listening (yet)
  }
}

/**
 * `kernscope run ...args` with only `caps`. Its HTTP server starts once every
 * probe is attached or given up, so the first /metrics tells the outcome; or
 * the agent exits before.
 */
async function runAgent(t: HasTeardown, caps: readonly Capability[], args: string[]): Promise<AgentRun> {
  const port = await freePort();
  // Keeping them all leaves the sets the agent started with visible in /proc.
  const cliArgs = [CLI, 'run', '--listen', `127.0.0.1:${port}`, '--capabilities-keep', 'all', ...args];
  const child = spawnClean('setpriv', [...setprivArgs(caps), process.execPath, ...cliArgs]);
  let log = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  t.teardown(() => running() && child.kill('SIGKILL'));
  const deadline = Date.now() + 30000;
  for (;;) {
    if (!running()) return { served: false, exit: { code: child.exitCode, signal: child.signalCode }, log };
    const body = await metricsBody(port);
    if (body !== undefined) {
      // env and setpriv exec: the child's pid is the agent's.
      const effective = effectiveCapabilities(child.pid!);
      const ready = await waitFor(
        '/readyz 200',
        async () => (await httpGet(port, '/readyz')).status === 200 || undefined,
        {
          timeoutMs: 10000,
        },
      ).then(
        () => true,
        () => false,
      );
      const exited = waitExit(child, 10000);
      child.kill('SIGTERM');
      await exited;
      return { served: true, samples: parseMetrics(body), ready, effective, log };
    }
    if (Date.now() > deadline) throw new Error(`agent neither served /metrics nor exited:\n${log}`);
    await sleep(50);
  }
}

/** Every probe of the profile up (and the BPF run-time stats there when asked for). */
function fullyUp(outcome: AgentRun, profile: Profile): boolean {
  if (!outcome.served) return false;
  const up = profile.options.probes.every(
    (probe) => select(outcome.samples, 'kernscope_probe_up', { probe })[0]?.value === 1,
  );
  const stats = select(outcome.samples, 'kernscope_bpf_program_runs_total').length > 0;
  return up && stats === profile.options.bpfStats;
}

function describeRun(outcome: AgentRun): string {
  if (!outcome.served) return `exit ${outcome.exit.code ?? outcome.exit.signal}: ${outcome.log.trim()}`;
  const probes = select(outcome.samples, 'kernscope_probe_up').map((s) => `${s.labels.probe}=${s.value}`);
  return `served, probes ${probes.join(' ')}`;
}

type Verdict = { running: string[]; failed: string[] } | { error: string };

/** What the kernel lets the Agent class attach with only `caps` (no capability check in front). */
async function kernelVerdict(caps: readonly Capability[], options: AgentOptions): Promise<Verdict> {
  const dist = path.join(ROOT, 'dist', 'src');
  const script = `
    const { Agent } = require(${JSON.stringify(path.join(dist, 'agent', 'Agent.js'))});
    const { Logger } = require(${JSON.stringify(path.join(dist, 'log.js'))});
    const agent = new Agent(${JSON.stringify(options)}, new Logger('error'));
    let verdict;
    try {
      agent.start();
      verdict = { running: agent.running.map((p) => p.loaded.definition.name), failed: agent.failed.map((f) => f.name) };
    } catch (error) {
      verdict = { error: error.message };
    }
    agent.stop();
    process.stdout.write(JSON.stringify(verdict));`;
  const result = await run('setpriv', [...setprivArgs(caps), process.execPath, '-e', script], { timeoutMs: 60000 });
  if (result.code !== 0) throw new Error(`agent child failed (${result.code ?? result.signal}): ${result.stderr}`);
  return JSON.parse(result.stdout) as Verdict;
}

void t.test('the default options need BPF and PERFMON; --bpf-stats needs SYS_ADMIN', (t) => {
  t.same(requiredCapabilities(DEFAULT_OPTIONS), ['BPF', 'PERFMON']);
  t.same(requiredCapabilities({ bpfStats: true }), ['SYS_ADMIN']);
  t.end();
});

void t.test('this kernel: CAP_BPF known, BPF memory in the memory cgroup, map reads unprivileged', (t) => {
  t.same(
    { ...kernelPrivileges(), release: undefined },
    { release: undefined, capBpf: true, memlock: false, bpfCallsPrivileged: false },
  );
  t.same(neededAfterAttach(), [], 'nothing is needed after attach');
  t.end();
});

void t.test('older kernels: SYS_ADMIN before 5.8, SYS_RESOURCE before 5.11, BPF kept before 5.19', (t) => {
  const kernels: [string, number, number, Capability[], Capability[]][] = [
    // release, cap_last_cap, unprivileged_bpf_disabled, required (default options), needed after attach
    ['5.4.0-150-generic', 37, 2, ['SYS_ADMIN', 'SYS_RESOURCE'], ['SYS_ADMIN']],
    ['5.10.0-28-amd64', 40, 2, ['BPF', 'PERFMON', 'SYS_RESOURCE'], ['BPF']],
    ['5.15.0-91-generic', 40, 2, ['BPF', 'PERFMON'], ['BPF']],
    ['5.15.0-91-generic', 40, 0, ['BPF', 'PERFMON'], []],
    ['5.19.0-1', 40, 2, ['BPF', 'PERFMON'], []],
    ['6.1.0-18-amd64', 40, 1, ['BPF', 'PERFMON'], []],
  ];
  for (const [release, lastCap, unprivileged, required, needed] of kernels) {
    const kernel = kernelPrivileges(release, lastCap, unprivileged);
    t.same(requiredCapabilities(DEFAULT_OPTIONS, kernel), required, `${release}: to start`);
    t.same(neededAfterAttach(kernel), needed, `${release} (unprivileged_bpf_disabled=${unprivileged}): after attach`);
  }
  t.same(requiredCapabilities({ bpfStats: true }, kernelPrivileges('5.10.0', 40, 2)), ['SYS_ADMIN', 'SYS_RESOURCE']);
  t.end();
});

const STARTUP_CHECKS: { caps: Capability[]; args: string[]; missing: string[] }[] = [
  { caps: [], args: [], missing: ['CAP_BPF', 'CAP_PERFMON'] },
  { caps: ['BPF'], args: [], missing: ['CAP_PERFMON'] },
  { caps: ['PERFMON', 'NET_ADMIN'], args: [], missing: ['CAP_BPF'] },
  { caps: ['BPF', 'PERFMON'], args: ['--bpf-stats'], missing: ['CAP_SYS_ADMIN'] },
];

for (const { caps, args, missing } of STARTUP_CHECKS) {
  void t.test(`start-up check with ${caps.join(' + ') || 'no capabilities'} ${args.join(' ')}`, async (t) => {
    const result = await run('setpriv', [...setprivArgs(caps), process.execPath, CLI, 'run', ...args], {
      timeoutMs: 15000,
    });
    t.same({ code: result.code, signal: result.signal }, { code: 1, signal: null }, 'exit 1');
    const errorLines = lines(result.stderr);
    t.equal(errorLines.length, 1, `one line: ${JSON.stringify(result.stderr)}`);
    const named = [...(errorLines[0] ?? '').matchAll(/CAP_[A-Z_]+ \(/g)].map((m) => m[0].slice(0, -2));
    t.same(named, missing, `names exactly the missing ones: ${errorLines[0]}`);
  });
}

for (const profile of PROFILES) {
  const required = requiredCapabilities(profile.options);

  void t.test(`${profile.name}: exactly ${required.join(' + ')} runs every probe`, async (t) => {
    const outcome = await runAgent(t, required, profile.args);
    if (!outcome.served) throw new Error(`agent did not serve /metrics: ${describeRun(outcome)}`);
    t.equal(outcome.effective, capabilityMask(required), 'the agent ran with exactly these capabilities');
    t.ok(fullyUp(outcome, profile), describeRun(outcome));
    t.same(
      select(outcome.samples, 'kernscope_probe_up')
        .map((s) => s.labels.probe)
        .sort(),
      [...profile.options.probes].sort(),
      'one kernscope_probe_up per selected probe',
    );
    t.ok(sumOf(outcome.samples, 'kernscope_syscalls_total') > 0, 'maps are read (syscalls counted)');
    t.ok(outcome.ready, '/readyz 200: every ring drained');
    const verdict = await kernelVerdict(required, profile.options);
    t.same(verdict, { running: profile.options.probes, failed: [] }, 'the kernel attaches every probe');
  });

  for (const missing of required) {
    const rest = required.filter((cap) => cap !== missing);
    void t.test(`${profile.name}: without ${missing} the agent fails or a probe is down`, async (t) => {
      const outcome = await runAgent(t, rest, profile.args);
      t.notOk(fullyUp(outcome, profile), describeRun(outcome));
      const verdict = await kernelVerdict(rest, profile.options);
      t.ok('error' in verdict || verdict.failed.length > 0, `the kernel refuses: ${JSON.stringify(verdict)}`);
    });
  }
}

void t.test('the default set is not enough for --bpf-stats', async (t) => {
  const stats = PROFILES.find((p) => p.options.bpfStats)!;
  const outcome = await runAgent(t, requiredCapabilities(DEFAULT_OPTIONS), stats.args);
  t.notOk(fullyUp(outcome, stats), describeRun(outcome));
});
