// The settings readers fuzzed (fast-check, a fixed seed: KS_FUZZ_SEED picks
// another). Config files (arbitrary values through the yaml library's
// stringify, the same with random edits, raw strings of YAML's indicators,
// raw code points), KERNSCOPE_* variables and flags go through resolveOptions;
// user probe configs through parseUserProbeConfig. Flags are generated as
// arguments and parsed as `kernscope run` parses them. Every call returns or
// throws only OptionError(s) (UserProbeError for user probes), every message
// is one printable line, no call takes long, nothing is warned on stderr.
// Then a few generated files through the CLI: exit 0 or 2, every stderr line
// `kernscope: `.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import fc from 'fast-check';
import t from 'tap';
import { stringify } from 'yaml';

import type { Flags } from '../../src/config/loadConfig';
import { CONFIG_ENV, resolveOptions } from '../../src/config/loadConfig';
import { OptionError, OptionErrors, optionErrorsOf } from '../../src/config/OptionError';
import { SETTING_FLAGS } from '../../src/config/settingFlags';
import { SETTINGS, settingOf } from '../../src/config/settings';
import { BUILTIN_PROBES } from '../../src/probes';
import { UserProbeError } from '../../src/userprobes/UserProbeError';
import { parseUserProbeConfig } from '../../src/userprobes/userProbeConfig';
import { writeConfig } from '../helpers/configFile';
import { CLI } from '../helpers/paths';
import { run } from '../helpers/process';

const SEED = Number(process.env.KS_FUZZ_SEED ?? 180718);
const RUNS = 300;
const CLI_RUNS = 10;
/** A call slower than this fails (a generated input is at most a few kB). */
const SLOW_MS = 1000;
const FILE = '/etc/kernscope/fuzz.yaml';

// Probe directories are left out: a generated one (`/`, `.`) would read user probes from this machine.
const PROBE_DIRS = settingOf('probeDirs');
const FILE_KEYS = SETTINGS.map((s) => s.file).filter((key) => key !== PROBE_DIRS.file);
const ENV_NAMES = SETTINGS.map((s) => s.env).filter((name) => name !== PROBE_DIRS.env);
const FLAG_NAMES = SETTINGS.map((s) => s.flag.slice(2)).filter((name) => name !== PROBE_DIRS.flag.slice(2));
const PROBES = BUILTIN_PROBES.map((p) => p.name);

// eslint-disable-next-line no-control-regex
const PRINTABLE_LINE = /^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$/;

/** Values a setting might have, right or wrong. */
const likely = fc.constantFrom(
  '10m',
  '0',
  '90s',
  '127.0.0.1:9478',
  ':0',
  'exec',
  'syscalls',
  'comm',
  'debug',
  '4096',
  '/sys/fs/cgroup',
  'true',
  'kernscope_syscall_duration_seconds',
);
const scalar = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), likely);
const value = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 2, arbitrary: fc.array(scalar, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 3 }) },
);
const probeSettings = fc.dictionary(fc.constantFrom('pid', 'cgroup', 'comm', 'labels', 'buckets', 'nope'), value, {
  maxKeys: 4,
});
const probeName = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...PROBES) }, { weight: 1, arbitrary: fc.string() });
const probes = fc.oneof(
  fc.array(probeName, { maxLength: 4 }),
  fc.dictionary(probeName, fc.option(probeSettings), { maxKeys: 4 }),
  value,
);
const settingKey = fc
  .oneof({ weight: 4, arbitrary: fc.constantFrom(...FILE_KEYS) }, { weight: 1, arbitrary: fc.string() })
  .filter((key) => key !== PROBE_DIRS.file);
const config = fc
  .record({ settings: fc.dictionary(settingKey, value, { maxKeys: 6 }), probes: fc.option(probes) })
  .map(({ settings, probes }) => (probes === null ? settings : { ...settings, probes }));

/** `value` as YAML (the library adds anchors and aliases for repeated objects). */
function yamlOf(value: unknown): string {
  try {
    return stringify(value) ?? ''; // undefined for undefined
  } catch {
    return String(value);
  }
}

/** YAML's indicators and some words, to build text that is nearly YAML. */
const yamlUnit = fc.constantFrom(
  ...[
    '[',
    ']',
    '{',
    '}',
    ':',
    ': ',
    '- ',
    '? ',
    ',',
    ' ',
    '  ',
    '\n',
    '\t',
    '#',
    '&a ',
    '*a',
    '!!str ',
    '!x ',
    '|',
    '>',
  ],
  ...['"', "'", '\\', '%YAML 1.1\n', '---\n', '...\n', '<<: ', '~', '\u0000', '\ufeff', 'listen', 'probes', 'exec'],
);
const edit = fc.record({ at: fc.nat(), cut: fc.nat(4), put: fc.string({ unit: yamlUnit, maxLength: 3 }) });
const yamlText = fc.oneof(
  { weight: 3, arbitrary: config.map(yamlOf) },
  {
    weight: 2,
    arbitrary: fc.tuple(config.map(yamlOf), fc.array(edit, { minLength: 1, maxLength: 5 })).map(([text, edits]) =>
      edits.reduce((t, { at, cut, put }) => {
        const i = at % (t.length + 1);
        return t.slice(0, i) + put + t.slice(i + cut);
      }, text),
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: yamlUnit, maxLength: 60 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('[', '{a: ', '- ', '? ', '- a:\n  '), fc.nat(300))
      .map(([open, n]) => open.repeat(n)),
  },
);

const envName = fc
  .oneof(
    { weight: 3, arbitrary: fc.constantFrom(...ENV_NAMES, CONFIG_ENV) },
    { weight: 1, arbitrary: fc.string().map((s) => `KERNSCOPE_${s}`) },
    { weight: 1, arbitrary: fc.string() },
  )
  .filter((name) => name !== PROBE_DIRS.env);
const env = fc.dictionary(envName, fc.oneof(fc.string(), likely, fc.constant(FILE)), { maxKeys: 5 });
/** parseArgs options of `kernscope run`'s settings (src/cli/run.ts adds --check-config and --help). */
const PARSE_OPTIONS = { config: { type: 'string' as const }, ...SETTING_FLAGS };
const flagText = fc.oneof(
  { weight: 3, arbitrary: fc.string() },
  { weight: 3, arbitrary: likely },
  { weight: 1, arbitrary: fc.constant(FILE) },
);
/** One flag as typed: a switch, `--flag value` or `--flag=value`. */
const flagArgs = fc.constantFrom(...FLAG_NAMES, 'config').chain((name) =>
  SETTING_FLAGS[name]?.type === 'boolean'
    ? fc.constant<string[]>([`--${name}`])
    : fc.oneof(
        flagText.map((text) => [`--${name}`, text]),
        flagText.map((text) => [`--${name}=${text}`]),
      ),
);
const argv = fc
  .array(fc.oneof({ weight: 19, arbitrary: flagArgs }, { weight: 1, arbitrary: fc.string().map((s) => [s]) }), {
    maxLength: 5,
  })
  .map((parts) => parts.flat());

/** Every OptionError message of `error`, or a failure if it is another error. */
function messagesOf(error: unknown): string[] {
  if (!(error instanceof OptionError || error instanceof OptionErrors)) {
    throw new Error(`threw ${error instanceof Error ? error.stack : String(error)}`);
  }
  return optionErrorsOf(error).map((e) => e.message);
}

interface Tally {
  calls: number;
  refused: number;
  slowestMs: number;
  totalMs: number;
}

/** Runs `call`, timed into `tally`; true when it returned or threw what it may. */
function check(tally: Tally, call: () => void, allowed: (error: unknown) => string[]): boolean {
  const start = performance.now();
  let messages: string[] = [];
  try {
    call();
  } catch (error) {
    messages = allowed(error);
    tally.refused++;
  }
  const ms = performance.now() - start;
  tally.calls++;
  tally.totalMs += ms;
  tally.slowestMs = Math.max(tally.slowestMs, ms);
  if (ms > SLOW_MS) throw new Error(`took ${Math.round(ms)} ms`);
  const bad = messages.find((m) => !PRINTABLE_LINE.test(m) || m.length > 1100);
  if (bad !== undefined) throw new Error(`not one printable line: ${JSON.stringify(bad)}`);
  return true;
}

function summary(what: string, tally: Tally): string {
  const mean = tally.totalMs / Math.max(1, tally.calls);
  return `${what}: ${tally.calls} calls, ${tally.refused} refused, mean ${mean.toFixed(2)} ms, slowest ${tally.slowestMs.toFixed(1)} ms`;
}

const newTally = (): Tally => ({ calls: 0, refused: 0, slowestMs: 0, totalMs: 0 });

/** A reader of FILE only, as the file holds `text`. */
function readerOf(text: string): (path: string) => string {
  return (path) => {
    if (path !== FILE) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return text;
  };
}

t.comment(`fast-check seed ${SEED} (KS_FUZZ_SEED=${SEED} repeats this run)`);

// The yaml library warns through process.emitWarning (a collection as a key): a line on stderr that is not kernscope's.
const warnings: string[] = [];
const onWarning = (warning: Error): void => void warnings.push(warning.message);
process.on('warning', onWarning);
t.teardown(() => process.off('warning', onWarning));

void t.test('generated config files: only OptionErrors, one line each, quickly', (t) => {
  const tally = newTally();
  fc.assert(
    fc.property(yamlText, (text) =>
      check(tally, () => resolveOptions({ config: FILE }, {}, readerOf(text)), messagesOf),
    ),
    { numRuns: RUNS, seed: SEED },
  );
  t.comment(summary('config files', tally));
  t.equal(tally.calls, RUNS, `${RUNS} generated files`);
  t.ok(tally.refused > 0 && tally.refused < RUNS, 'some accepted, some refused');
  t.end();
});

void t.test('generated KERNSCOPE_* variables and flags (and a config file): only OptionErrors, quickly', (t) => {
  const tally = newTally();
  let usage = 0;
  fc.assert(
    fc.property(argv, env, yamlText, (args, env, text) => {
      let flags: Flags;
      try {
        flags = parseArgs({ args, options: PARSE_OPTIONS }).values;
      } catch {
        usage++; // a UsageError in the CLI, before any setting is read
        return true;
      }
      return check(tally, () => resolveOptions(flags, env, readerOf(text)), messagesOf);
    }),
    { numRuns: RUNS, seed: SEED + 1 },
  );
  t.comment(summary('variables and flags', tally));
  t.comment(`${usage} command lines refused by parseArgs`);
  t.equal(tally.calls + usage, RUNS, `${RUNS} generated environments and command lines`);
  t.ok(usage < RUNS / 4, 'most command lines parse');
  t.end();
});

/** User probe configs: their keys, nested as anything. */
const userProbeKey = fc.constantFrom(
  ...['metrics', 'counters', 'histograms', 'name', 'help', 'labels', 'size', 'padding', 'decoders', 'static_map'],
  ...['regexps', 'allow_unknown', 'bucket_type', 'bucket_min', 'bucket_max', 'bucket_keys', 'kaddrs', 'trace'],
  ...['ringbuf', 'uint', 'exp2', 'fixed'],
);
const userProbeText = fc.oneof(
  { weight: 3, arbitrary: fc.anything({ key: userProbeKey, maxDepth: 6, maxKeys: 4 }).map(yamlOf) },
  { weight: 1, arbitrary: yamlText },
);

void t.test('generated user probe configs: only UserProbeErrors, quickly', (t) => {
  const tally = newTally();
  const userProbeErrors = (error: unknown): string[] => {
    if (!(error instanceof UserProbeError))
      throw new Error(`threw ${error instanceof Error ? error.stack : String(error)}`);
    return []; // shown through OptionError, which makes them one line
  };
  fc.assert(
    fc.property(userProbeText, (text) => check(tally, () => parseUserProbeConfig(text, FILE), userProbeErrors)),
    { numRuns: RUNS, seed: SEED + 2 },
  );
  t.comment(summary('user probe configs', tally));
  t.equal(tally.calls, RUNS, `${RUNS} generated user probe configs`);
  t.end();
});

void t.test('no warning on stderr', (t) => {
  setImmediate(() => {
    t.same(warnings, [], 'process.emitWarning never called');
    t.end();
  });
});

void t.test('generated config files through the CLI: exit 0 or 2, every line kernscope:', async (t) => {
  const texts = fc.sample(yamlText, { numRuns: CLI_RUNS, seed: SEED + 3 });
  for (const [i, text] of texts.entries()) {
    const file = writeConfig(t, '');
    writeFileSync(file, text);
    const start = performance.now();
    const result = await run(process.execPath, [CLI, 'run', '--check-config', '--config', file], { timeoutMs: 30000 });
    const ms = Math.round(performance.now() - start);
    const errors = result.stderr === '' ? [] : result.stderr.replace(/\n$/, '').split('\n');
    t.comment(`CLI run ${i}: exit ${result.code}, ${errors.length} lines, ${ms} ms`);
    t.ok(result.code === 0 || result.code === 2, `run ${i}: exit 0 or 2, got ${result.code}: ${result.stderr}`);
    t.ok(errors.length <= 21, `run ${i}: at most 21 lines`);
    t.ok(
      errors.every((line) => line.startsWith('kernscope: ')),
      `run ${i}: every line starts kernscope: ${JSON.stringify(errors)}`,
    );
    if (result.code === 0) t.match(result.stdout, /^config ok: /, `run ${i}: summarised`);
  }
});
