// Settings from the config file, KERNSCOPE_* variables and flags: parsing,
// validation (one error per bad value, naming the key as its source spells
// it) and precedence. No kernel needed.
import t from 'tap';

import { DEFAULT_OPTIONS, effectiveProbeOptions } from '../../src/config/AgentOptions';
import type { OptionError } from '../../src/config/OptionError';
import { optionErrorsOf } from '../../src/config/OptionError';
import { cgroup2Mount } from '../../src/kernel/cgroup';
import { formatDuration, parseDuration, resolveOptions } from '../../src/config/loadConfig';
import { bucketProblem, withOptionalLabels } from '../../src/config/probeOptions';
import { findProbe } from '../../src/probes';

const FILE = '/etc/kernscope/test.yaml';
/** A cgroup v2 directory that exists: the mount (unified or hybrid layout). */
const CGROUP = cgroup2Mount() ?? '/sys/fs/cgroup';

/** resolveOptions with the config file's text given inline. */
function resolve(yaml: string | undefined, env: NodeJS.ProcessEnv = {}, flags: Record<string, string | boolean> = {}) {
  const read = (path: string): string => {
    if (path !== FILE || yaml === undefined) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    return yaml;
  };
  return resolveOptions(yaml === undefined ? flags : { config: FILE, ...flags }, env, read);
}

/** The error lines resolve() throws (fails the test if it does not throw). */
function errorsOf(t: tap.Test, yaml: string | undefined, env: NodeJS.ProcessEnv = {}, flags = {}): string[] {
  try {
    resolve(yaml, env, flags);
  } catch (error) {
    const errors: OptionError[] = optionErrorsOf(error);
    t.ok(errors.length > 0, `threw option errors, not ${String(error)}`);
    return errors.map((e) => e.message);
  }
  t.fail('resolveOptions accepted it');
  return [];
}

const EVERY_KEY = `
listen: 127.0.0.1:9999
probes:
  exec:
    labels: [comm]
    cgroup: ${CGROUP}
  syscalls:
    pid: 4242
    comm: python3
    buckets:
      kernscope_syscall_duration_seconds: [0.00000095367431640625, 0.000244140625, 0.0625]
strict: true
pid: 1
cgroup: ${CGROUP}
comm: sshd
ring_bytes: 65536
wakeup_bytes: 4096
drain_interval_ms: 50
max_series: 300
series_ttl: 90s
bpf_stats: true
log_level: debug
`;

void t.test('no sources: the defaults', (t) => {
  const { options, sources } = resolve(undefined);
  // The probe list is checked by validateOptions (a probe that is part of another is dropped).
  t.same({ ...options, probes: [] }, { ...DEFAULT_OPTIONS, probes: [] });
  t.same(sources, []);
  t.equal(DEFAULT_OPTIONS.seriesTtlMs, 600000, 'series TTL defaults to 10 minutes');
  t.equal(DEFAULT_OPTIONS.maxSeriesPerMetric, 2000, 'series cap defaults to 2000');
  t.end();
});

void t.test('a file with every key', (t) => {
  const { options, sources } = resolve(EVERY_KEY);
  t.match(options, {
    listen: '127.0.0.1:9999',
    probes: ['exec', 'syscalls'],
    strict: true,
    tgid: 1,
    cgroup: CGROUP,
    comm: 'sshd',
    ringBytes: 65536,
    wakeupBytes: 4096,
    drainIntervalMs: 50,
    maxSeriesPerMetric: 300,
    seriesTtlMs: 90000,
    bpfStats: true,
    logLevel: 'debug',
  });
  t.same(options.probeOptions, {
    exec: { labels: ['comm'], cgroup: CGROUP },
    syscalls: {
      tgid: 4242,
      comm: 'python3',
      buckets: { kernscope_syscall_duration_seconds: [0.00000095367431640625, 0.000244140625, 0.0625] },
    },
  });
  t.same(sources, [`config file ${FILE}`]);
  t.same(
    effectiveProbeOptions(options, 'syscalls'),
    {
      tgid: 4242,
      cgroup: CGROUP,
      comm: 'python3',
      labels: [],
      buckets: { kernscope_syscall_duration_seconds: [0.00000095367431640625, 0.000244140625, 0.0625] },
    },
    "a probe's own filters beat the file's global ones",
  );
  t.same(effectiveProbeOptions(options, 'exec'), {
    tgid: 1,
    cgroup: CGROUP,
    comm: 'sshd',
    labels: ['comm'],
    buckets: {},
  });
  t.end();
});

void t.test('precedence: file < environment < flags, key by key', (t) => {
  const yaml = 'listen: 127.0.0.1:1\nmax_series: 10\nlog_level: warn\n';
  const fileOnly = resolve(yaml).options;
  t.match(fileOnly, { listen: '127.0.0.1:1', maxSeriesPerMetric: 10, logLevel: 'warn' });

  const env = { KERNSCOPE_LISTEN: '127.0.0.1:2', KERNSCOPE_MAX_SERIES: '20' };
  const withEnv = resolve(yaml, env);
  t.match(withEnv.options, { listen: '127.0.0.1:2', maxSeriesPerMetric: 20, logLevel: 'warn' });
  t.same(withEnv.sources, [`config file ${FILE}`, 'environment (KERNSCOPE_LISTEN, KERNSCOPE_MAX_SERIES)']);

  const withFlags = resolve(yaml, env, { listen: '127.0.0.1:3' });
  t.match(withFlags.options, { listen: '127.0.0.1:3', maxSeriesPerMetric: 20, logLevel: 'warn' });
  t.same(withFlags.sources.at(-1), 'flags (--listen)');
  t.end();
});

void t.test('a global filter from the environment or a flag beats per-probe filters from the file', (t) => {
  const yaml = 'probes:\n  syscalls:\n    pid: 7\n    comm: a\n  exec:\n';
  t.same(effectiveProbeOptions(resolve(yaml).options, 'syscalls'), { tgid: 7, comm: 'a', labels: [], buckets: {} });
  const env = resolve(yaml, { KERNSCOPE_PID: '9' }).options;
  t.match(effectiveProbeOptions(env, 'syscalls'), { tgid: 9, comm: 'a' }, 'KERNSCOPE_PID wins, comm stays');
  t.match(effectiveProbeOptions(env, 'exec'), { tgid: 9 });
  const flag = resolve(yaml, { KERNSCOPE_PID: '9' }, { pid: '11', comm: 'b' }).options;
  t.match(effectiveProbeOptions(flag, 'syscalls'), { tgid: 11, comm: 'b' }, '--pid and --comm win');
  t.end();
});

void t.test('the file path can come from KERNSCOPE_CONFIG; --config wins', (t) => {
  const read = (path: string): string => `log_level: ${path === '/a.yaml' ? 'warn' : 'error'}\n`;
  t.equal(resolveOptions({}, { KERNSCOPE_CONFIG: '/a.yaml' }, read).options.logLevel, 'warn');
  t.equal(resolveOptions({ config: '/b.yaml' }, { KERNSCOPE_CONFIG: '/a.yaml' }, read).options.logLevel, 'error');
  t.end();
});

void t.test('probes as a list; an empty file; probes with no settings', (t) => {
  t.same(resolve('probes: [syscalls]\n').options.probes, ['syscalls']);
  t.same(resolve('').options.listen, DEFAULT_OPTIONS.listen);
  t.same(resolve('# nothing\n').options.probeOptions, {});
  const bare = resolve('probes:\n  syscalls:\n').options;
  t.same(bare.probes, ['syscalls']);
  t.same(bare.probeOptions, { syscalls: {} });
  t.end();
});

void t.test('the wakeup default follows the ring size from any source', (t) => {
  t.equal(resolve('ring_bytes: 65536\n').options.wakeupBytes, 16384);
  t.equal(resolve(undefined, { KERNSCOPE_RING_BYTES: '8192' }).options.wakeupBytes, 2048);
  t.end();
});

void t.test('environment values: booleans, lists, durations; empty means unset', (t) => {
  const { options } = resolve(undefined, {
    KERNSCOPE_STRICT: 'true',
    KERNSCOPE_BPF_STATS: '0',
    KERNSCOPE_PROBES: 'syscalls, exec',
    KERNSCOPE_SERIES_TTL: '1h',
    KERNSCOPE_LOG_LEVEL: '',
    PATH: '/usr/bin',
  });
  t.match(options, {
    strict: true,
    bpfStats: false,
    probes: ['syscalls', 'exec'],
    seriesTtlMs: 3600000,
    logLevel: 'info',
  });
  t.end();
});

void t.test('durations', (t) => {
  t.equal(parseDuration('600'), 600000, 'no unit: seconds');
  t.equal(parseDuration('90s'), 90000);
  t.equal(parseDuration('10m'), 600000);
  t.equal(parseDuration('2h'), 7200000);
  t.equal(parseDuration('1500ms'), 1500);
  t.equal(parseDuration('0'), 0);
  t.equal(parseDuration('ten minutes'), undefined);
  t.equal(parseDuration('-5s'), undefined);
  t.equal(formatDuration(600000), '10m');
  t.equal(formatDuration(90000), '90s');
  t.equal(formatDuration(1500), '1500ms');
  t.equal(resolve('series_ttl: 600\n').options.seriesTtlMs, 600000, 'a YAML number is seconds');
  t.equal(resolve('series_ttl: 0\n').options.seriesTtlMs, 0, '0 turns expiry off');
  t.equal(resolve(undefined, {}, { 'series-ttl': '5m' }).options.seriesTtlMs, 300000);
  t.end();
});

void t.test('every bad value in the file is one error naming the key, the value and what is accepted', (t) => {
  const yaml = `
listen: bogus
strict: yes
ring_bytes: 1000
drain_interval_ms: 0
max_series: -3
series_ttl: 500ms
log_level: loud
comm: a-name-longer-than-15
bpf_stats: 1
cgroup: ${CGROUP}/no/such/cgroup
probes:
  syscalls:
    pid: 0
    buckets:
      kernscope_syscall_duration_seconds: [0.001]
`;
  const lines = errorsOf(t, yaml);
  const where = ` in ${FILE}`;
  const expected: [string, RegExp][] = [
    ['listen', /^invalid listen in \S+: "bogus"; expected HOST:PORT, :PORT or \[IPv6\]:PORT$/],
    ['strict', /^invalid strict in \S+: "yes"; expected true or false$/],
    ['ring_bytes', /^invalid ring_bytes in \S+: 1000; expected a power of two of at least 4096$/],
    ['drain_interval_ms', /^invalid drain_interval_ms in \S+: 0; expected an integer from 1 to 10000$/],
    ['max_series', /^invalid max_series in \S+: -3; expected a positive integer$/],
    ['series_ttl', /^invalid series_ttl in \S+: "500ms"; expected 0 \(never\) or a duration of at least 1s/],
    ['log_level', /^invalid log_level in \S+: "loud"; expected debug, info, warn, error$/],
    ['comm', /^invalid comm in \S+: "a-name-longer-than-15"; expected a command name \(comm\) of 1 to 15 bytes$/],
    ['bpf_stats', /^invalid bpf_stats in \S+: 1; expected true or false$/],
    [
      'cgroup',
      /^invalid cgroup in \S+: "\S+\/no\/such\/cgroup"; expected an existing cgroup v2 directory.*does not exist/,
    ],
    ['probes.syscalls.pid', /^invalid probes\.syscalls\.pid in \S+: 0; expected a positive process id$/],
    [
      'probes.syscalls.buckets.kernscope_syscall_duration_seconds',
      /^invalid probes\.syscalls\.buckets\.kernscope_syscall_duration_seconds in \S+: \[0\.001\]; expected .*slot edges 2\^k seconds.*0\.001 is not one \(nearest: 0\.0009765625, 0\.001953125\)$/,
    ],
  ];
  t.equal(lines.length, expected.length, `one line per bad value:\n${lines.join('\n')}`);
  for (const [key, pattern] of expected) {
    const line = lines.find((l) => l.startsWith(`invalid ${key}${where}:`));
    if (t.ok(line, `a line for ${key}`)) t.match(line, pattern);
  }
  t.end();
});

void t.test('unknown keys are errors, at every level', (t) => {
  const yaml = `
listen: :1234
max_serie: 3
probes:
  syscalls:
    comn: x
    labels: [comm]
    buckets:
      kernscope_syscalls_total: [1]
  nope: {}
`;
  const lines = errorsOf(t, yaml);
  t.equal(lines.length, 5, lines.join('\n'));
  t.match(lines, [
    /^unknown key max_serie in \S+; expected one of listen, probes, .*max_series/,
    /^unknown key probes\.syscalls\.comn in \S+; expected one of pid, cgroup, comm, labels, buckets$/,
    /^invalid probes\.syscalls\.labels in \S+: "comm"; expected nothing: syscalls has no optional labels$/,
    /^unknown key probes\.syscalls\.buckets\.kernscope_syscalls_total in \S+; expected histograms of syscalls: kernscope_syscall_duration_seconds$/,
    /^unknown key probes\.nope in \S+; expected probes among .*syscalls/,
  ]);
  t.end();
});

void t.test('optional labels must be optional labels of that probe', (t) => {
  const lines = errorsOf(t, 'probes:\n  exec:\n    labels: [comm, filename]\n');
  t.same(lines.length, 1);
  t.match(lines[0], /^invalid probes\.exec\.labels in \S+: "filename"; expected optional labels of exec: comm$/);
  t.end();
});

void t.test('buckets: ascending powers of two of a second, the slot edges at every schema', (t) => {
  t.equal(bucketProblem([2 ** -20, 2 ** -10, 2 ** 1]), undefined);
  t.equal(bucketProblem([2 ** -30, 2 ** 34]), undefined, 'the first and last slot edges');
  t.match(bucketProblem([2 ** -10, 2 ** -20]), /does not ascend/);
  t.match(bucketProblem([2 ** 35]), /34359738368 is above the largest, 17179869184$/, 'beyond the last slot');
  t.match(bucketProblem([2 ** -31]), /is below the smallest, 9\.313225746154785e-10$/, 'below 1 kernel unit');
  t.match(
    bucketProblem([3e-6]),
    /is not one \(nearest: 0\.0000019073486328125, 0\.000003814697265625\)$/,
    'between edges',
  );
  t.match(
    bucketProblem([0.001]),
    /2\^k seconds \(-30 <= k <= 34\), e\.g\. 0\.0009765625 \(2\^-10\); 0\.001 is not one/,
    'a decimal',
  );
  t.ok(bucketProblem([]), 'empty');
  t.ok(bucketProblem(['1']), 'strings');
  t.end();
});

void t.test('buckets in a config file: powers of two of a second, up to 2^34 s', (t) => {
  const tcp = { probes: 'tcp' };
  t.doesNotThrow(
    () =>
      resolve(
        'probes:\n  tcp:\n    buckets:\n      kernscope_tcp_connect_duration_seconds: [0.0009765625, 4]\n',
        {},
        tcp,
      ),
    'tcp takes 2^-10 s and 4 s',
  );
  t.match(
    errorsOf(
      t,
      'probes:\n  syscalls:\n    buckets:\n      kernscope_syscall_duration_seconds: [34359738368]\n',
      {},
      { probes: 'syscalls' },
    ),
    [/kernscope_syscall_duration_seconds.*34359738368 is above the largest, 17179869184$/],
    '2^35 s is past the last slot',
  );
  t.end();
});

void t.test('YAML syntax errors and duplicate keys name the file and the line', (t) => {
  t.match(errorsOf(t, 'listen: :1\nlisten: :2\n'), [
    /^cannot parse \S+: duplicate key listen at line 2, column 1 \(first at line 1\)$/,
  ]);
  t.match(errorsOf(t, 'probes: [exec,\n'), [/^cannot parse \S+: .* at line \d+, column \d+/]);
  t.match(errorsOf(t, '- a\n- b\n'), [/^invalid the top level in \S+: \["a","b"\]; expected a mapping of settings$/]);
  t.end();
});

void t.test('a file that cannot be read', (t) => {
  t.match(errorsOf(t, undefined, {}, { config: '/no/such.yaml' }), [/^cannot read --config \/no\/such\.yaml: ENOENT$/]);
  t.match(errorsOf(t, undefined, { KERNSCOPE_CONFIG: '/no/such.yaml' }), [
    /^cannot read KERNSCOPE_CONFIG \/no\/such\.yaml/,
  ]);
  t.end();
});

void t.test('environment errors name the variable; unknown KERNSCOPE_ variables are errors', (t) => {
  const lines = errorsOf(t, undefined, {
    KERNSCOPE_MAX_SERIES: 'many',
    KERNSCOPE_STRICT: 'maybe',
    KERNSCOPE_MAXSERIES: '5',
  });
  t.equal(lines.length, 3, lines.join('\n'));
  t.match(lines, [
    /^invalid KERNSCOPE_MAX_SERIES: "many"; expected a positive integer$/,
    /^invalid KERNSCOPE_STRICT: "maybe"; expected true or false$/,
    /^unknown key environment variable KERNSCOPE_MAXSERIES; expected one of KERNSCOPE_CONFIG, KERNSCOPE_LISTEN, /,
  ]);
  t.end();
});

void t.test('flag errors name the flag', (t) => {
  t.match(errorsOf(t, undefined, {}, { 'series-ttl': '500ms' }), [
    /^invalid --series-ttl: "500ms"; expected 0 \(never\)/,
  ]);
  t.match(errorsOf(t, undefined, {}, { comm: '' }), [/^invalid --comm: ""; expected a command name/]);
  t.end();
});

void t.test('rules between settings name the key where the value came from', (t) => {
  t.match(errorsOf(t, 'ring_bytes: 4096\nwakeup_bytes: 8192\n'), [
    /^invalid wakeup_bytes in \S+: 8192; expected an integer from 1 to the ring size \(4096\)$/,
  ]);
  t.match(errorsOf(t, 'ring_bytes: 4096\n', { KERNSCOPE_WAKEUP_BYTES: '8192' }), [
    /^invalid KERNSCOPE_WAKEUP_BYTES: 8192/,
  ]);
  t.end();
});

void t.test('optional labels are off unless enabled', (t) => {
  const exec = findProbe('exec')!;
  t.same(withOptionalLabels(exec, []).recordMetrics[0].labels, {}, 'comm off: one series');
  t.same(withOptionalLabels(exec, ['comm']).recordMetrics[0].labels, { comm: 'comm' });
  const syscalls = findProbe('syscalls')!;
  t.same(withOptionalLabels(syscalls, []).mapMetrics, syscalls.mapMetrics, 'labels that are not optional stay');
  t.end();
});
