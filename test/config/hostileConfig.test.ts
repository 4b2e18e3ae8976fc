// Hostile settings files through the real CLI (`kernscope run --check-config`):
// an alias bomb, nesting 100,000 deep, a 10 GB file, /dev/zero, tens of
// thousands of unknown or duplicate keys, binary garbage, a directory, keys
// with terminal escapes. Each ends quickly with exit 2 and at most 21 lines
// on stderr (20 problems and `… and N more problems`), the first naming the
// file; the web config and a user probe's NAME.yaml are read the same way.
// The time of each run (node's start-up included) is printed as a comment.
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';

import t from 'tap';

import { YAML_FILE_LIMIT } from '../../src/yamlfile/yamlFile';
import { writeConfig } from '../helpers/configFile';
import { CLI } from '../helpers/paths';
import type { RunResult } from '../helpers/process';
import { run } from '../helpers/process';

/** Generous, for a loaded machine: the runs take well under 1 s each. */
const DEADLINE_MS = 5000;

/** `kernscope run --check-config ...args`, timed. */
async function checkConfig(args: string[], env: Record<string, string> = {}): Promise<RunResult & { ms: number }> {
  const start = performance.now();
  const result = await run(process.execPath, [CLI, 'run', '--check-config', ...args], { timeoutMs: 30000, env });
  return { ...result, ms: Math.round(performance.now() - start) };
}

/** Lines of stderr, the last newline ending the last. */
function stderrLines(stderr: string): string[] {
  return stderr === '' ? [] : stderr.replace(/\n$/, '').split('\n');
}

/** Asserts a refusal: exit 2, quickly, at most 21 lines each starting `kernscope: `, the first matching `first`. */
async function refused(
  t: tap.Test,
  what: string,
  args: string[],
  first: RegExp,
  { env = {}, count }: { env?: Record<string, string>; count?: number } = {},
): Promise<string[]> {
  const result = await checkConfig(args, env);
  const errors = stderrLines(result.stderr);
  t.comment(`${what}: ${result.ms} ms, exit ${result.code}, ${errors.length} lines`);
  t.equal(result.code, 2, `${what}: exit 2 (${result.stderr.slice(0, 300)})`);
  t.equal(result.stdout, '', `${what}: nothing on stdout`);
  t.ok(result.ms < DEADLINE_MS, `${what}: done in ${result.ms} ms`);
  t.ok(errors.length >= 1 && errors.length <= 21, `${what}: 1 to 21 lines, got ${errors.length}`);
  t.ok(
    errors.every((line) => line.startsWith('kernscope: ')),
    `${what}: every line starts kernscope:`,
  );
  t.match(errors[0], first, `${what}: first line`);
  if (count !== undefined) {
    t.equal(errors.length, 21, `${what}: 20 problems and a count of the rest`);
    t.equal(errors[20], `kernscope: … and ${count - 20} more problems`, `${what}: the count`);
  }
  return errors;
}

/** Regexp-escaped `text`. */
const re = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `n` distinct keys of three characters. */
function keys(n: number): string[] {
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  return Array.from(
    { length: n },
    (_, i) => `${chars[i % 52]}${chars[Math.floor(i / 52) % 52]}${chars[Math.floor(i / 2704) % 52]}`,
  );
}

/** Billion laughs: ten levels of nine aliases each. */
const ALIAS_BOMB = [
  'a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]',
  ...Array.from({ length: 9 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(9).fill(`*a${i}`).join(', ')}]`),
].join('\n');

void t.test('an alias bomb', async (t) => {
  const file = writeConfig(t, ALIAS_BOMB);
  await refused(
    t,
    'alias bomb',
    ['--config', file],
    new RegExp(`^kernscope: cannot parse ${re(file)}: aliases that expand more than 100 times`),
  );
});

void t.test('nesting 100,000 deep, in flow and block style', async (t) => {
  const deep = new RegExp('cannot parse \\S+: nested more than 64 deep at line \\d+, column \\d+$');
  const cases: [string, string][] = [
    ['100000 [', `listen: ${'['.repeat(100000)}`],
    ['100000 {a: ', '{a: '.repeat(30000)],
    ['60000 - on a line', '- '.repeat(60000)],
    ['450 levels of a:', Array.from({ length: 450 }, (_, i) => `${' '.repeat(i)}a:`).join('\n')],
    ['200 levels of - a:', Array.from({ length: 200 }, (_, i) => `${' '.repeat(2 * i)}- a:`).join('\n')],
  ];
  for (const [what, text] of cases) {
    t.ok(Buffer.byteLength(text) <= YAML_FILE_LIMIT, `${what}: within the size limit`);
    await refused(t, what, ['--config', writeConfig(t, text)], deep);
  }
});

void t.test('a 10 GB file, /dev/zero: refused by size without reading them', async (t) => {
  const file = writeConfig(t, '');
  truncateSync(file, 10 * 2 ** 30); // sparse
  const limit = `over the ${YAML_FILE_LIMIT / 1024} KiB limit of a YAML settings file: name the right file, or shorten it$`;
  await refused(
    t,
    '10 GB file',
    ['--config', file],
    new RegExp(`^kernscope: cannot read --config ${re(file)}: 10737418240 bytes, ${limit}`),
  );
  await refused(
    t,
    '/dev/zero',
    ['--config', '/dev/zero'],
    new RegExp(`^kernscope: cannot read --config /dev/zero: more than ${YAML_FILE_LIMIT} bytes, ${limit}`),
  );
  const env = { KERNSCOPE_CONFIG: '/dev/zero' };
  await refused(
    t,
    'KERNSCOPE_CONFIG=/dev/zero',
    [],
    /^kernscope: cannot read KERNSCOPE_CONFIG \/dev\/zero: more than/,
    { env },
  );
});

void t.test('tens of thousands of unknown keys: 20 lines and a count', async (t) => {
  const flow = keys(32000);
  const flowFile = writeConfig(t, `{${flow.join(',')}}`);
  await refused(
    t,
    '32000 unknown keys {abc,...}',
    ['--config', flowFile],
    new RegExp(`^kernscope: unknown key \\w+ in ${re(flowFile)}; expected one of listen, `),
    {
      count: 32000,
    },
  );
  const block = keys(12000);
  const blockFile = writeConfig(t, block.map((key) => `${key}_x: 1\n`).join(''));
  await refused(t, '12000 unknown keys, one a line', ['--config', blockFile], /^kernscope: unknown key \w+_x in /, {
    count: 12000,
  });
  const probes = keys(20000);
  const probesFile = writeConfig(t, `probes: {${probes.join(',')}}`);
  await refused(
    t,
    '20000 unknown probes',
    ['--config', probesFile],
    /^kernscope: unknown key probes\.\w+ in \S+; expected probes among /,
    {
      count: 20001, // and `invalid probes: []`, as none is left
    },
  );
  const labelsFile = writeConfig(t, `probes:\n  exec:\n    labels: [${Array(24000).fill('nope').join(',')}]\n`);
  await refused(
    t,
    'tens of thousands of bad labels',
    ['--config', labelsFile],
    /^kernscope: invalid probes\.exec\.labels in \S+: "nope"; expected /,
  );
});

void t.test('duplicate keys, found in one pass', async (t) => {
  const flowFile = writeConfig(t, `{${Array(65000).fill('a').join(',')}}`);
  await refused(
    t,
    '65000 duplicate keys {a,a,...}',
    ['--config', flowFile],
    new RegExp(`^kernscope: cannot parse ${re(flowFile)}: duplicate key a at line 1, column 4 \\(first at line 1\\)$`),
  );
  const blockFile = writeConfig(t, 'listen: :1\n'.repeat(11000));
  const errors = await refused(
    t,
    '11000 listen: lines',
    ['--config', blockFile],
    /: duplicate key listen at line 2, column 1 \(first at line 1\)$/,
  );
  t.equal(errors.length, 1, 'one line');
});

void t.test(
  'binary garbage, a directory, a second document, a key with terminal escapes, a list as a key, a 100 kB key',
  async (t) => {
    let seed = 42;
    const garbage = Buffer.alloc(100000, 0).map(() => (seed = (seed * 1103515245 + 12345) % 2 ** 31) >> 23);
    const file = writeConfig(t, '');
    writeFileSync(file, garbage);
    await refused(
      t,
      'binary garbage',
      ['--config', file],
      new RegExp(`^kernscope: (cannot parse ${re(file)}|invalid the top level in ${re(file)}): `),
    );

    const dir = mkdtempSync(path.join(tmpdir(), 'kernscope-dir-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    await refused(
      t,
      'a directory',
      ['--config', dir],
      new RegExp(`^kernscope: cannot read --config ${re(dir)}: EISDIR$`),
    );

    const two = writeConfig(t, 'listen: :1\n---\nlisten: :2\n');
    await refused(
      t,
      'two documents',
      ['--config', two],
      /: a second document at line 2, column 1: a settings file holds one$/,
    );

    const escapes = writeConfig(t, '"\\e[2J\\e]0;pwned\\a\\nlog_level": debug\n');
    const [line] = await refused(
      t,
      'terminal escapes in a key',
      ['--config', escapes],
      /^kernscope: unknown key \\u001b\[2J\\u001b\]0;pwned\\u0007\\nlog_level in /,
    );
    // eslint-disable-next-line no-control-regex
    t.notOk(/[\u0000-\u001f]/.test(line), 'no control character reaches the terminal');

    const collection = writeConfig(t, '? [a, b]\n: 1\n');
    const keyLines = await refused(
      t,
      'a list as a key',
      ['--config', collection],
      /^kernscope: unknown key \[ a, b \] in /,
    );
    t.equal(keyLines.length, 1, 'one line');

    const long = writeConfig(t, `? ${'k'.repeat(100000)}\n: 1\n`);
    const [longLine] = await refused(
      t,
      'a 100 kB key',
      ['--config', long],
      /^kernscope: unknown key kkkk.*…\(\d+ characters\)…/,
    );
    t.ok(longLine.length < 1100, `cut to ${longLine.length} characters`);
  },
);

void t.test('2000 unknown KERNSCOPE_* variables', async (t) => {
  // Not 20,000: node enumerates process.env in quadratic time (0.6 s for 20,000 names, before kernscope runs).
  const env = Object.fromEntries(keys(2000).map((key) => [`KERNSCOPE_${key.toUpperCase()}_${key}`, '1']));
  await refused(
    t,
    '2000 unknown variables',
    [],
    /^kernscope: unknown key environment variable KERNSCOPE_\w+; expected one of /,
    { env, count: 2000 },
  );
});

void t.test('the web config and a user probe config are read the same way', async (t) => {
  const web = writeConfig(t, ALIAS_BOMB);
  await refused(
    t,
    'web config alias bomb',
    ['--web-config', web],
    new RegExp(`^kernscope: cannot parse web config ${re(web)}: aliases that expand more than 100 times`),
  );
  const dir = mkdtempSync(path.join(tmpdir(), 'kernscope-probes-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const probe = path.join(dir, 'hostile.yaml');
  writeFileSync(probe, `metrics: ${'['.repeat(100000)}`, { mode: 0o644 });
  await refused(
    t,
    'user probe nested 100000 deep',
    ['--probe-dir', dir],
    new RegExp(`^kernscope: ${re(probe)}: cannot parse: nested more than 64 deep at line 1, column `),
  );
  writeFileSync(probe, '');
  truncateSync(probe, 10 * 2 ** 30);
  await refused(
    t,
    'user probe of 10 GB',
    ['--probe-dir', dir],
    new RegExp(`^kernscope: ${re(probe)}: cannot read: 10737418240 bytes, over the `),
  );
});

void t.test('what still works: an empty file, a FIFO (read once)', async (t) => {
  const empty = await checkConfig(['--config', writeConfig(t, '')]);
  t.comment(`empty file: ${empty.ms} ms`);
  t.same({ code: empty.code, stderr: empty.stderr }, { code: 0, stderr: '' }, 'an empty file sets nothing');
  t.match(empty.stdout, /^config ok: /);

  const dir = mkdtempSync(path.join(tmpdir(), 'kernscope-fifo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'in'));
  const fifo = path.join(dir, 'in', 'kernscope.yaml');
  execFileSync('mkfifo', [fifo]);
  const written = writeFile(fifo, 'max_series: 77\n');
  const result = await checkConfig(['--config', fifo]);
  await written;
  t.same({ code: result.code, stderr: result.stderr }, { code: 0, stderr: '' }, 'a FIFO config is read');
  t.match(result.stdout, /max_series 77; /);
});
