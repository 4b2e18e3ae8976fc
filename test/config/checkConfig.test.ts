// `kernscope run --check-config`: validates file, environment and flags
// without root, prints one summary line and exits 0; every bad value is one
// line on stderr and exit 2.
import t from 'tap';

import { cgroup2Mount } from '../../src/kernel/cgroup';
import { writeConfig } from '../helpers/configFile';
import { CLI } from '../helpers/paths';
import type { RunResult } from '../helpers/process';
import { lines, run } from '../helpers/process';

const CGROUP = cgroup2Mount() ?? '/sys/fs/cgroup';

const GOOD = `
listen: 127.0.0.1:9555
log_level: warn
max_series: 500
series_ttl: 2m
probes:
  exec:
    labels: [comm]
    cgroup: ${CGROUP}
  syscalls:
    comm: python3
    buckets:
      kernscope_syscall_duration_seconds: [0.00000095367431640625, 0.0009765625]
`;

/** `kernscope run --check-config ...args` with extra environment variables, as nobody (no capabilities). */
function checkConfig(args: string[], env: Record<string, string> = {}, asNobody = false): Promise<RunResult> {
  const command = [
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    process.execPath,
    CLI,
    'run',
    '--check-config',
    ...args,
  ];
  if (!asNobody) return run('/usr/bin/env', command, { timeoutMs: 15000 });
  return run(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '/usr/bin/env', ...command],
    { timeoutMs: 15000 },
  );
}

void t.test('a good file: exit 0, one summary line, no root needed', async (t) => {
  const file = writeConfig(t, GOOD);
  const result = await checkConfig(['--config', file], {}, true);
  t.same({ code: result.code, stderr: result.stderr }, { code: 0, stderr: '' }, 'exit 0 as nobody, nothing on stderr');
  const out = lines(result.stdout);
  t.equal(out.length, 1, `one line: ${JSON.stringify(result.stdout)}`);
  t.match(out[0], /^config ok: probes exec\(cgroup=\S+ labels=comm\),syscalls\(comm=python3 buckets=1\); /);
  t.match(
    out[0],
    /listen 127\.0\.0\.1:9555; .*max_series 500; series_ttl 2m; histogram_schema 0; .*log_level warn; from config file \S+kernscope\.yaml$/,
  );
});

void t.test('environment beats the file, flags beat the environment', async (t) => {
  const file = writeConfig(t, GOOD);
  const env = { KERNSCOPE_LISTEN: '127.0.0.1:7001', KERNSCOPE_MAX_SERIES: '42' };
  const withEnv = await checkConfig(['--config', file], env);
  t.equal(withEnv.code, 0, withEnv.stderr);
  t.match(withEnv.stdout, /listen 127\.0\.0\.1:7001; .*max_series 42; .*log_level warn;/);
  t.match(withEnv.stdout, /from config file \S+, environment \(KERNSCOPE_LISTEN, KERNSCOPE_MAX_SERIES\)\n$/);

  const withFlag = await checkConfig(['--config', file, '--listen', '127.0.0.1:7002', '--log-level', 'debug'], env);
  t.equal(withFlag.code, 0, withFlag.stderr);
  t.match(withFlag.stdout, /listen 127\.0\.0\.1:7002; .*max_series 42; .*log_level debug;/);
  t.match(withFlag.stdout, /flags \(--listen, --log-level\)\n$/);

  const viaEnv = await checkConfig([], { KERNSCOPE_CONFIG: file });
  t.equal(viaEnv.code, 0, viaEnv.stderr);
  t.match(viaEnv.stdout, /listen 127\.0\.0\.1:9555; /, 'KERNSCOPE_CONFIG names the file');
});

void t.test('a bad file: exit 2, one line per bad value naming key, value and what is accepted', async (t) => {
  const file = writeConfig(
    t,
    `
listen: nowhere
max_series: 0
probes:
  syscalls:
    comm: much-too-long-a-name
  exec:
    labels: [filename]
  teleport: {}
unknown_setting: 1
`,
  );
  const result = await checkConfig(['--config', file]);
  t.equal(result.code, 2, 'exit 2');
  t.equal(result.stdout, '', 'nothing on stdout');
  const errors = lines(result.stderr);
  t.equal(errors.length, 6, result.stderr);
  const where = ` in ${file}`;
  t.same(errors.slice(0, 4), [
    `kernscope: invalid listen${where}: "nowhere"; expected HOST:PORT, :PORT or [IPv6]:PORT`,
    `kernscope: invalid max_series${where}: 0; expected a positive integer`,
    `kernscope: invalid probes.syscalls.comm${where}: "much-too-long-a-name"; expected a command name (comm) of 1 to 15 bytes`,
    `kernscope: invalid probes.exec.labels${where}: "filename"; expected optional labels of exec: comm`,
  ]);
  t.match(errors[4], `kernscope: unknown key probes.teleport${where}; expected probes among `);
  t.match(errors[5], `kernscope: unknown key unknown_setting${where}; expected one of listen, `);
});

void t.test('bad environment and flag values name the variable and the flag', async (t) => {
  const result = await checkConfig(['--series-ttl', 'forever'], { KERNSCOPE_RING_BYTES: '1000', KERNSCOPE_NOPE: 'x' });
  t.equal(result.code, 2);
  const errors = lines(result.stderr);
  t.equal(errors.length, 3, result.stderr);
  t.ok(errors.includes('kernscope: invalid KERNSCOPE_RING_BYTES: "1000"; expected a power of two of at least 4096'));
  t.ok(
    errors.some((l) => l.startsWith('kernscope: unknown key environment variable KERNSCOPE_NOPE; expected one of ')),
  );
  t.ok(
    errors.some((l) => l.startsWith('kernscope: invalid --series-ttl: "forever"; expected 0 (never) or a duration')),
  );
});

void t.test('a missing file and a YAML syntax error', async (t) => {
  const missing = await checkConfig(['--config', '/nonexistent/kernscope.yaml']);
  t.equal(missing.code, 2);
  t.same(lines(missing.stderr), ['kernscope: cannot read --config /nonexistent/kernscope.yaml: ENOENT']);
  const file = writeConfig(t, 'listen: :1\n  probes: [\n');
  const broken = await checkConfig(['--config', file]);
  t.equal(broken.code, 2);
  t.equal(lines(broken.stderr).length, 1, broken.stderr);
  t.match(broken.stderr, new RegExp(`^kernscope: cannot parse ${file}: .* at line \\d+, column \\d+`));
});
