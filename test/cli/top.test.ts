// `kernscope top` in a real terminal: tmux, on a private socket, runs it in
// an 80x24 pane; a getppid loop and an exec loop, each in a cgroup of its
// own, are the first rows of the syscalls and process views; the other views
// draw, a resize redraws at the new size, and q puts the terminal back
// (normal screen, cursor shown, cooked mode) with exit 0 and nothing left in
// the kernel. Without a terminal, top is one line and exit 2.
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

import t from 'tap';

import { bpfIdsOf, waitGone } from '../helpers/bpftool';
import { createCgroup } from '../helpers/cgroup';
import { CLI } from '../helpers/paths';
import { lines, run, runNode, spawnClean } from '../helpers/process';
import type { HasTeardown } from '../helpers/teardown';
import { waitFor } from '../helpers/teardown';

const SOCKET = `kernscope-test-${process.pid}`;
const SESSION = 'top';

async function tmux(...args: string[]): Promise<string> {
  const result = await run('tmux', ['-L', SOCKET, ...args], { timeoutMs: 10000 });
  if (result.code !== 0) throw new Error(`tmux ${args.join(' ')}: exit ${result.code}: ${result.stderr}`);
  return result.stdout;
}

/** Polls the pane until `check` accepts its lines; on timeout the error shows the last screen. */
async function waitScreen<T>(what: string, check: (screen: string[]) => T | undefined, timeoutMs = 20000): Promise<T> {
  let last = '';
  try {
    return await waitFor(
      what,
      async () => {
        last = await tmux('capture-pane', '-p', '-t', SESSION);
        return check(last.replace(/\n$/, '').split('\n'));
      },
      { timeoutMs, intervalMs: 100 },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; the screen:\n${last}`);
  }
}

/**
 * The cell under `heading` in the first row below the table's header (the
 * line starting NAMESPACE); text columns start where their heading starts.
 * The last column runs to the end of the line.
 */
function firstRowCell(screen: string[], heading: string): string | undefined {
  const header = screen.findIndex((line) => line.startsWith('NAMESPACE'));
  const at = header < 0 ? -1 : screen[header].indexOf(heading);
  const row = screen[header + 1];
  if (at < 0 || row === undefined) return undefined;
  const rest = row.slice(at);
  return screen[header].endsWith(heading) ? rest.trim() : rest.split(' ')[0];
}

/** `argv` run in `cgroup` (the shell joins it, then execs the command); killed at teardown. */
function runIn(t: HasTeardown, cgroup: string, argv: string[]): ChildProcess {
  const child = spawnClean('/bin/sh', ['-c', `echo $$ > ${cgroup}/cgroup.procs && exec "$0" "$@"`, ...argv]);
  t.teardown(() => void child.kill('SIGKILL'));
  return child;
}

/** The views' header lines as drawn at 80 columns (rows of host processes: POD is "-"). */
const HEADERS: Record<string, RegExp> = {
  '3 tcp': /^NAMESPACE +POD +CONTAINER +CONN\/s +CONN p99 +RETRANS\/s +RESETS\/s$/,
  '4 runqueue': /^NAMESPACE +POD +CONTAINER +RUNQ p50 +RUNQ p99 +WAITS\/s$/,
  '5 blockio': /^NAMESPACE +POD +CONTAINER +READ B\/s +WRITE B\/s +OTHER B\/s$/,
};

void t.test('top in an 80x24 tmux pane: the busiest cgroups first; q restores the terminal', async (t) => {
  const syscalls = createCgroup(t, 'kstop-sys');
  const execs = createCgroup(t, 'kstop-exec');
  // After top: its exit code, whether the pty is back in cooked mode, an end mark, then a pause that keeps the pane.
  const afterTop = `echo "top exited $?"; stty -a | tr -s ' ;' '\\n\\n' | grep -x -e -icanon -e icanon -e -echo -e echo; echo end`;
  await tmux(
    'new-session',
    '-d',
    '-s',
    SESSION,
    '-x',
    '80',
    '-y',
    '24',
    `'${process.execPath}' '${CLI}' top; ${afterTop}; exec sleep 600`,
  );
  // The server leaves its socket file behind: removed with it.
  const socket = (await tmux('display', '-p', '#{socket_path}')).trim();
  t.teardown(async () => {
    await tmux('kill-server').catch(() => undefined);
    rmSync(socket, { force: true });
  });
  await waitScreen('the syscalls view', (s) => (s[0].startsWith('[1 syscalls]') ? true : undefined), 60000);
  const shell = (await tmux('display', '-p', '-t', SESSION, '#{pane_pid}')).trim();
  const top = Number(readFileSync(`/proc/${shell}/task/${shell}/children`, 'utf8').trim());
  const ids = bpfIdsOf(top);
  t.ok(ids.progIds.length > 0, 'top holds its programs');
  t.equal(
    await tmux('display', '-p', '-t', SESSION, '#{alternate_on} #{cursor_flag}'),
    '1 0\n',
    'on the alternate screen, cursor hidden',
  );

  runIn(t, syscalls, ['python3', '-c', 'import os\nwhile True:\n    os.getppid()']);
  runIn(t, execs, ['/bin/sh', '-c', 'while :; do /bin/true; done']);

  // The intervals in which python starts hold its start-up syscalls (newfstatat, openat...): wait for an
  // interval of the loop alone, where getppid is nearly all of them.
  const first = await waitScreen('the getppid loop in the first row, nearly all getppid', (s) => {
    const row = [firstRowCell(s, 'CONTAINER'), firstRowCell(s, 'BUSIEST')];
    return row[0] === path.basename(syscalls) && /^getppid (9\d|100)%$/.test(row[1] ?? '') ? row : undefined;
  });
  t.equal(first[0], path.basename(syscalls), "the workload's cgroup is the first row of the syscalls view");

  await tmux('send-keys', '-t', SESSION, '2');
  const processView = await waitScreen('the exec loop first in the process view', (s) =>
    s[0].startsWith(' 1 syscalls [2 process]') && firstRowCell(s, 'CONTAINER') === path.basename(execs) ? s : undefined,
  );
  t.match(processView[1], /sorted by EXECS\/s/);
  t.match(processView[2], /^NAMESPACE +POD +CONTAINER +EXECS\/s +FORKS\/s +EXITS\/s +KILLED\/s$/);
  await tmux('send-keys', '-t', SESSION, 's');
  await waitScreen('s: sorted on the next column', (s) => (/sorted by FORKS\/s/.test(s[1]) ? true : undefined));

  for (const [view, header] of Object.entries(HEADERS)) {
    await tmux('send-keys', '-t', SESSION, view[0]);
    await waitScreen(`view ${view}`, (s) => (s[0].includes(`[${view}]`) && header.test(s[2]) ? true : undefined));
  }
  await tmux('send-keys', '-t', SESSION, 'Tab');
  await waitScreen('Tab: from the last view to the first', (s) => (s[0].startsWith('[1 syscalls]') ? true : undefined));

  // Drawn for 80 columns, the header (60 or more: the cgroup's name is 23 or more) would be cut at 50; redrawn, it fits.
  await tmux('resize-window', '-t', SESSION, '-x', '50', '-y', '20');
  const narrow = await waitScreen('a redraw at 50x20', (s) =>
    /^NAMESPACE +POD +CONTAINER +SYSCALLS\/s +BUSIEST$/.test(s[2]) ? s : undefined,
  );
  t.equal(narrow.length, 20, '20 lines');
  t.ok(
    path.basename(syscalls).startsWith(firstRowCell(narrow, 'CONTAINER')!.replace(/~$/, '')),
    'the container cut to fit, still first',
  );

  await tmux('send-keys', '-t', SESSION, 'q');
  const after = await waitScreen('top to exit', (s) => (s.includes('end') ? s : undefined));
  t.same(
    after.filter((l) => l !== ''),
    ['top exited 0', 'icanon', 'echo', 'end'],
    'exit 0 on the normal screen; the terminal back in cooked mode with echo',
  );
  t.equal(
    await tmux('display', '-p', '-t', SESSION, '#{alternate_on} #{cursor_flag}'),
    '0 1\n',
    'normal screen, cursor shown',
  );
  t.same(
    await waitGone(ids.progIds, ids.linkIds, 2500, ids.mapIds),
    { progs: [], links: [], maps: [] },
    'no program, link or map left',
  );
});

void t.test('without a terminal: one line naming stats and trace, exit 2', async (t) => {
  const result = await runNode(CLI, ['top'], 15000);
  t.equal(result.code, 2);
  t.equal(result.stdout, '');
  t.same(lines(result.stderr), [
    'kernscope: top needs a terminal on stdin and stdout; for text to a pipe or a file use kernscope stats PROBE or kernscope trace PROBE',
  ]);
});

void t.test('bad usage: one line, exit 2', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--interval', '0'], /^kernscope: invalid --interval: "0"; expected seconds from 0\.1 to 3600/],
    [['--interval', 'abc'], /^kernscope: invalid --interval: "abc"/],
    [['--bogus'], /^kernscope: Unknown option '--bogus'; see kernscope top --help$/m],
  ];
  for (const [args, pattern] of cases) {
    const result = await runNode(CLI, ['top', ...args], 15000);
    t.equal(result.code, 2, `${args.join(' ')}: exit 2`);
    t.same(lines(result.stderr).length, 1, `${args.join(' ')}: one line`);
    t.match(result.stderr, pattern);
  }
});

void t.test('top --help: what a row is, the views and keys, examples; exit 0', async (t) => {
  const result = await runNode(CLI, ['top', '--help'], 15000);
  t.equal(result.code, 0);
  t.match(result.stdout, /Rows are the agent's attribution units, not processes/);
  t.match(result.stdout, /q or Ctrl-C quits/);
  t.match(result.stdout, /kernscope top --interval 5/);
  t.ok(
    result.stdout.split('\n').every((line) => line.length <= 80),
    'fits 80 columns',
  );
});
