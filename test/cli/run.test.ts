// `kernscope run` at the edge: bad options exit 2 with one line naming the
// option; no BPF privileges exits non-zero naming what is missing.
import t from 'tap';

import { BUILTIN_PROBES } from '../../src/probes';
import { CLI } from '../helpers/paths';
import { lines, run, runNode } from '../helpers/process';

async function usageError(t: tap.Test, args: string[], pattern: RegExp): Promise<void> {
  const result = await runNode(CLI, args, 15000);
  t.equal(result.code, 2, `exit 2 for ${args.join(' ')}`);
  t.equal(result.stdout, '', 'nothing on stdout');
  const errorLines = lines(result.stderr);
  t.equal(errorLines.length, 1, `one line on stderr: ${JSON.stringify(result.stderr)}`);
  t.match(errorLines[0], pattern);
}

void t.test('--listen bogus', (t) => usageError(t, ['run', '--listen', 'bogus'], /^kernscope: .*--listen.*bogus/));
void t.test('--listen port out of range', (t) => usageError(t, ['run', '--listen', ':70000'], /--listen/));

void t.test('--probes nope names the accepted probes', async (t) => {
  await usageError(t, ['run', '--probes', 'nope'], /--probes.*nope/);
  const result = await runNode(CLI, ['run', '--probes', 'nope'], 15000);
  for (const probe of BUILTIN_PROBES) t.match(result.stderr, probe.name, `mentions ${probe.name}`);
});

void t.test('--probes with one bad name among good ones', (t) =>
  usageError(t, ['run', '--probes', `${BUILTIN_PROBES[0].name},nope`], /--probes.*nope/),
);
void t.test('--ring-bytes 1000 (not a power of two)', (t) =>
  usageError(t, ['run', '--ring-bytes', '1000'], /--ring-bytes.*1000.*power of two/),
);
void t.test('--ring-bytes 2048 (below a page)', (t) => usageError(t, ['run', '--ring-bytes', '2048'], /--ring-bytes/));
void t.test('--ring-bytes abc', (t) => usageError(t, ['run', '--ring-bytes', 'abc'], /--ring-bytes/));
void t.test('--wakeup-bytes above the ring', (t) =>
  usageError(t, ['run', '--ring-bytes', '4096', '--wakeup-bytes', '8192'], /--wakeup-bytes/),
);
void t.test('--pid 0', (t) => usageError(t, ['run', '--pid', '0'], /--pid/));
void t.test('--log-level loud', (t) => usageError(t, ['run', '--log-level', 'loud'], /--log-level.*loud/));
void t.test('--capabilities-keep with a name that is no capability', (t) =>
  usageError(t, ['run', '--capabilities-keep', 'bpf,cap_nope'], /--capabilities-keep.*cap_nope.*CAP_BPF or bpf/),
);
void t.test('--capabilities-keep none mixed with names', (t) =>
  usageError(t, ['run', '--capabilities-keep', 'none,bpf'], /--capabilities-keep.*none/),
);
void t.test('unknown option', (t) => usageError(t, ['run', '--bogus-option'], /bogus-option/));

void t.test('run --help exits 0 and documents every option', async (t) => {
  const result = await runNode(CLI, ['run', '--help'], 15000);
  t.equal(result.code, 0);
  for (const option of ['--listen', '--probes', '--cgroup', '--ring-bytes', '--wakeup-bytes', '--strict']) {
    t.match(result.stdout, option);
  }
});

void t.test('without BPF privileges: non-zero exit, one line naming CAP_BPF', async (t) => {
  const result = await run(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, CLI, 'run'],
    { timeoutMs: 15000 },
  );
  t.not(result.code, 0, 'exit code non-zero');
  t.equal(result.signal, null, 'not killed by a signal');
  const errorLines = lines(result.stderr);
  t.equal(errorLines.length, 1, `one line on stderr: ${JSON.stringify(result.stderr)}`);
  t.match(errorLines[0], /CAP_BPF/);
});
