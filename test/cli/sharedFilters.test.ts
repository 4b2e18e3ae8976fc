// --pid and --cgroup mean the same to run, stats and trace: one check (the
// agent's, SETTINGS) accepts and rejects the same values for all three,
// before anything is loaded. Only trace also asks that the process run.
import t from 'tap';

import { parseRunOptions } from '../../src/cli/run';
import { parseStatsOptions } from '../../src/cli/stats';
import { parseTraceArgs } from '../../src/cli/trace';
import { CLI } from '../helpers/paths';
import { lines, runNode } from '../helpers/process';

/** The pid each command would filter on, or the message it refuses the value with. */
function pidOf(command: 'run' | 'stats' | 'trace', value: string): number | string | undefined {
  const flag = `--pid=${value}`;
  try {
    if (command === 'run') {
      const invocation = parseRunOptions([flag], {});
      return invocation === 'help' ? 'help' : invocation.options.tgid;
    }
    if (command === 'stats') {
      const invocation = parseStatsOptions(['runqueue', flag]);
      return invocation === 'help' ? 'help' : invocation.filter.tgid;
    }
    return parseTraceArgs(['exec', flag])?.settings.tgid;
  } catch (error) {
    return (error as Error).message.replace(/; see kernscope trace --help$/, '');
  }
}

const REJECTED = ['0', '-1', 'abc', '', '1.5', '0x10', '1e3', String(2 ** 31), '99999999999999999999'];

void t.test('the values run rejects, stats and trace reject with the same message', (t) => {
  for (const value of REJECTED) {
    const expected = `invalid --pid: ${JSON.stringify(value)}; expected a positive process id`;
    t.same(
      (['run', 'stats', 'trace'] as const).map((command) => pidOf(command, value)),
      [expected, expected, expected],
      JSON.stringify(value),
    );
  }
  t.end();
});

void t.test('the values run accepts, stats and trace accept as the same pid', (t) => {
  for (const [value, pid] of [
    ['1', 1],
    [String(process.pid), process.pid],
    [` ${process.pid}`, process.pid],
  ] as const) {
    t.same(
      (['run', 'stats', 'trace'] as const).map((command) => pidOf(command, value)),
      [pid, pid, pid],
      JSON.stringify(value),
    );
  }
  t.end();
});

void t.test('above the old trace limit (2^22): a pid for all three; trace also wants it running', (t) => {
  // Linux pids stay below 2^22 (PID_MAX_LIMIT), so no process has this one.
  const value = String(2 ** 22 + 1);
  t.equal(pidOf('run', value), 2 ** 22 + 1);
  t.equal(pidOf('stats', value), 2 ** 22 + 1);
  t.equal(pidOf('trace', value), `invalid --pid: no process ${value} is running`);
  t.end();
});

void t.test("--cgroup: the agent's check for stats and trace too", (t) => {
  const messages = [
    () => parseRunOptions(['--cgroup', 'kernscope-no-such'], {}),
    () => parseStatsOptions(['runqueue', '--cgroup', 'kernscope-no-such']),
    () => parseTraceArgs(['exec', '--cgroup', 'kernscope-no-such']),
  ].map((parse) => {
    try {
      parse();
      return 'accepted';
    } catch (error) {
      return (error as Error).message.replace(/; see kernscope trace --help$/, '');
    }
  });
  t.match(messages[0], /^invalid --cgroup: "kernscope-no-such"; expected an existing cgroup v2 directory/);
  t.same(messages, [messages[0], messages[0], messages[0]]);
  t.end();
});

void t.test('a bad --pid: exit 2 within a second, one line naming the flag and what it accepts', async (t) => {
  for (const args of [
    ['run', '--pid', 'abc'],
    ['stats', 'runqueue', '--pid', 'abc'],
    ['trace', 'exec', '--pid', 'abc'],
  ]) {
    const started = Date.now();
    const result = await runNode(CLI, args, 15000);
    const seconds = (Date.now() - started) / 1000;
    t.equal(result.code, 2, `${args.join(' ')}: exit 2`);
    t.ok(seconds < 1, `${args.join(' ')}: in ${seconds} s`);
    t.same(lines(result.stderr).length, 1, `${args.join(' ')}: one line`);
    t.match(result.stderr, /^kernscope: invalid --pid: "abc"; expected a positive process id/);
  }
});
