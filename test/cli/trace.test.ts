// `kernscope trace` as a real subprocess: exact exec events for a workload of
// known execs (cgroup filter, --pid, --comm pattern), --duration ends it
// with the summary, bad usage is one line and exit 2, and the tracer leaves
// nothing in the kernel.
import type { ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';

import t from 'tap';

import { bpfIdsOf, waitGone } from '../helpers/bpftool';
import { createCgroup, execsIn } from '../helpers/cgroup';
import { CLI, ROOT } from '../helpers/paths';
import { lines, run, spawnClean, waitExit } from '../helpers/process';
import type { HasTeardown } from '../helpers/teardown';
import { waitFor } from '../helpers/teardown';

interface Tracer {
  child: ChildProcessByStdio<null, Readable, Readable>;
  stdout: () => string;
  stderr: () => string;
}

/** Starts `kernscope trace args...` and resolves once it says it is tracing. */
async function startTrace(t: HasTeardown, args: string[]): Promise<Tracer> {
  const child = spawnClean(process.execPath, [CLI, 'trace', ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  t.teardown(() => void child.kill('SIGKILL'));
  await waitFor(`trace ${args.join(' ')} to start`, () => (/tracing /.test(stderr) ? true : undefined), {
    timeoutMs: 20000,
  });
  return { child, stdout: () => stdout, stderr: () => stderr };
}

/** SIGINT, then the exit and everything printed. */
async function stopTrace(tracer: Tracer): Promise<{ exit: unknown; stdout: string; stderr: string }> {
  tracer.child.kill('SIGINT');
  const exit = await waitExit(tracer.child, 10000);
  return { exit, stdout: tracer.stdout(), stderr: tracer.stderr() };
}

const jsonEvents = (stdout: string) => lines(stdout).map((line) => JSON.parse(line) as Record<string, unknown>);

void t.test('trace exec --json: exactly the workload execs, in its cgroup; nothing left after', async (t) => {
  const cgroup = createCgroup(t);
  const tracer = await startTrace(t, ['exec', '--json', '--cgroup', cgroup]);
  const ids = bpfIdsOf(tracer.child.pid!);
  t.ok(ids.progIds.length > 0, 'the tracer holds its program');
  await execsIn(cgroup, 25);
  await waitFor('25 events', () => (jsonEvents(tracer.stdout()).length >= 25 ? true : undefined));
  const { exit, stdout, stderr } = await stopTrace(tracer);
  t.same(exit, { code: 0, signal: null }, 'Ctrl-C ends it, exit 0');
  const events = jsonEvents(stdout);
  t.equal(events.length, 25, 'one event per exec, no other');
  t.same(
    [...new Set(events.map((e) => `${e.probe as string} ${e.comm as string} ${e.filename as string}`))],
    ['exec true /bin/true'],
  );
  t.ok(
    events.every(
      (e) => typeof e.pid === 'number' && typeof e.ppid === 'number' && !Number.isNaN(Date.parse(e.time as string)),
    ),
    'pid, ppid and an ISO time on each',
  );
  t.match(stderr, /exec: 25 events, 0 lost/, 'the summary (on stderr with --json)');
  t.same(
    await waitGone(ids.progIds, ids.linkIds, 2500, ids.mapIds),
    { progs: [], links: [], maps: [] },
    'nothing left',
  );
});

void t.test('trace exec --pid: only that process', async (t) => {
  // A shell that waits (with builtins only) for a file, then execs /bin/true in place: the event carries its pid.
  const dir = mkdtempSync(path.join(tmpdir(), 'kernscope-trace-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const go = path.join(dir, 'go');
  const shell = spawnClean('/bin/sh', ['-c', `while [ ! -e ${go} ]; do :; done; exec /bin/true`]);
  t.teardown(() => void shell.kill('SIGKILL'));
  const cgroup = createCgroup(t);
  const tracer = await startTrace(t, ['exec', '--json', '--pid', String(shell.pid)]);
  await execsIn(cgroup, 5); // others' execs: not traced
  writeFileSync(go, '');
  await waitExit(shell, 10000);
  await waitFor('the event', () => (jsonEvents(tracer.stdout()).length >= 1 ? true : undefined));
  const { stdout } = await stopTrace(tracer);
  t.same(
    jsonEvents(stdout).map((e) => [e.pid, e.comm]),
    [[shell.pid, 'true']],
  );
});

void t.test('trace exec --comm REGEX: the pattern is matched in full', async (t) => {
  const cgroup = createCgroup(t);
  const tracer = await startTrace(t, ['exec', '--cgroup', cgroup, '--comm', 'tru.|echo']);
  const script = `echo $$ > ${cgroup}/cgroup.procs; for i in 1 2 3; do /bin/true; /bin/echo x >/dev/null; /bin/false; done; exit 0`;
  t.equal((await run('/bin/sh', ['-c', script])).code, 0, 'workload ran');
  await waitFor('6 rows', () => (lines(tracer.stdout()).length >= 7 ? true : undefined));
  const { stdout } = await stopTrace(tracer);
  const rows = lines(stdout).filter((l) => !l.startsWith('---') && !/^\s/.test(l));
  t.match(rows[0], /^TIME\s+PID\s+COMM\s+PPID\s+UID\s+FILENAME$/, 'the table heading');
  const comms = rows.slice(1, 7).map((row) => row.split(/\s+/)[2]);
  t.same(comms.sort(), ['echo', 'echo', 'echo', 'true', 'true', 'true'], 'true and echo, never false');
  t.match(stdout, /^exec: 6 events, 0 lost$/m, 'the summary');
});

void t.test('--duration 2 ends on its own with the summary', async (t) => {
  const result = await run(process.execPath, [CLI, 'trace', 'exec', '--duration', '2'], { timeoutMs: 30000 });
  t.same([result.code, result.timedOut], [0, false], 'exit 0, by itself');
  t.match(result.stdout, /^--- 2\.\d s traced$/m, 'ran its two seconds');
  t.match(result.stdout, /^exec: \d+ events, 0 lost$/m, 'counts per probe');
});

void t.test('bad usage: one line naming the problem and the fix, exit 2', async (t) => {
  const cases: [string[], RegExp][] = [
    [['nosuch'], /^kernscope: unknown probe 'nosuch': expected one of .*exec.*; see kernscope trace --help$/m],
    [['syscall_counts'], /^kernscope: probe syscall_counts has no events to trace/],
    [['exec', '--min-latency', '5'], /^kernscope: --min-latency applies to probes that measure a latency/],
    [['exec', '--pid', 'abc'], /^kernscope: invalid --pid: "abc"; expected a positive process id/],
    [['exec', '--comm', '(('], /^kernscope: invalid --comm: /],
    [['exec', '--container', 'zzz'], /^kernscope: invalid --container: "zzz"; expected a container id/],
    [
      ['exec', '--container', 'abcdefabcdef'],
      /^kernscope: invalid --container: no container abcdefabcdef on this host/,
    ],
    [['exec', '--duration', '0'], /^kernscope: invalid --duration: "0"; expected a positive number/],
    [[], /^kernscope: expected one PROBE\[,PROBE\.\.\.\] argument, got 0/],
  ];
  for (const [args, pattern] of cases) {
    const result = await run(process.execPath, [CLI, 'trace', ...args], { timeoutMs: 20000 });
    t.equal(result.code, 2, `${args.join(' ')}: exit 2`);
    t.match(result.stderr, pattern, `${args.join(' ')}: names the problem`);
    t.equal(lines(result.stderr).length, 1, `${args.join(' ')}: one line`);
  }
});

void t.test('trace a user probe: its ring records as its trace section decodes them', async (t) => {
  // A copy of true under a name of its own: only the workload's execs match the --comm pattern.
  const dir = mkdtempSync(path.join(tmpdir(), 'kernscope-trace-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const binary = path.join(dir, 'ks-traced');
  writeFileSync(binary, readFileSync('/bin/true'), { mode: 0o755 });
  const examples = path.join(ROOT, 'examples');
  const tracer = await startTrace(t, ['exec_argc', '--probe-dir', examples, '--json', '--comm', 'ks-traced']);
  const ids = bpfIdsOf(tracer.child.pid!);
  const ARGS = [0, 1, 5];
  for (const n of ARGS) {
    const result = await run(
      binary,
      Array.from({ length: n }, (_, i) => `a${i}`),
    );
    t.equal(result.code, 0, `ks-traced with ${n} arguments`);
  }
  await waitFor('3 events', () => (jsonEvents(tracer.stdout()).length >= ARGS.length ? true : undefined));
  const { exit, stdout, stderr } = await stopTrace(tracer);
  t.same(exit, { code: 0, signal: null }, 'Ctrl-C ends it, exit 0');
  const events = jsonEvents(stdout);
  t.same(
    events.map((e) => ({ probe: e.probe, comm: e.comm, argc: e.argc })),
    ARGS.map((n) => ({ probe: 'exec_argc', comm: 'ks-traced', argc: n + 1 })),
    'one event per exec, argc with argv[0]',
  );
  t.ok(
    events.every((e) => typeof e.pid === 'number' && e.pid > 0 && !Number.isNaN(Date.parse(e.time as string))),
    'a pid and an ISO time on each',
  );
  t.match(stderr, /exec_argc: 3 events, 0 lost/, 'the summary');
  t.same(
    await waitGone(ids.progIds, ids.linkIds, 2500, ids.mapIds),
    { progs: [], links: [], maps: [] },
    'nothing left',
  );
});

void t.test('trace refuses a kernel filter for a user probe, and a user probe without a trace section', async (t) => {
  const examples = path.join(ROOT, 'examples');
  const filtered = await run(process.execPath, [CLI, 'trace', 'exec_argc', '--probe-dir', examples, '--pid', '1']);
  t.equal(filtered.code, 2);
  t.equal(
    filtered.stderr.trim(),
    'kernscope: --pid filters in the kernel, which user probe exec_argc does not: filter in its program, or use --comm; see kernscope trace --help',
  );
  const untraced = await run(process.execPath, [CLI, 'trace', 'softirqs', '--probe-dir', examples]);
  t.equal(untraced.code, 2);
  t.match(untraced.stderr.trim(), /^kernscope: probe softirqs has no events to trace/);
});
