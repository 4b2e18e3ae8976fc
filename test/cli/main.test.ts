// The kernscope command dispatcher.
import t from 'tap';

import { CLI } from '../helpers/paths';
import { lines, runNode } from '../helpers/process';

void t.test('unknown command: exit 2, one line', async (t) => {
  const result = await runNode(CLI, ['frobnicate'], 15000);
  t.equal(result.code, 2);
  t.equal(lines(result.stderr).length, 1);
  t.match(result.stderr, /unknown command 'frobnicate'/);
});

void t.test('no command: usage, exit 2', async (t) => {
  const result = await runNode(CLI, [], 15000);
  t.equal(result.code, 2);
  t.match(result.stdout, /Usage: kernscope <command>/);
});

void t.test('--help: usage, exit 0', async (t) => {
  const result = await runNode(CLI, ['--help'], 15000);
  t.equal(result.code, 0);
  t.match(result.stdout, /run .*\n.*probes/);
});
