// The SETTINGS table and the flags it generates: the names follow the rule
// README documents, README names every key, and each row is a parseArgs
// option and a help entry with its placeholder and default.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import t from 'tap';

import { SETTING_FLAGS, settingsHelp } from '../../src/config/settingFlags';
import { SETTINGS } from '../../src/config/settings';
import { ROOT } from '../helpers/paths';

void t.test('environment variable and flag follow the file key (README: Configuration)', (t) => {
  for (const setting of SETTINGS) {
    t.equal(setting.env, `KERNSCOPE_${setting.file.toUpperCase()}`, `${setting.file}: variable`);
    // A repeatable flag names one of the list: probe_dirs, --probe-dir.
    const flag = setting.repeatable ? setting.file.replace(/s$/, '') : setting.file;
    t.equal(setting.flag, `--${flag.replaceAll('_', '-')}`, `${setting.file}: flag`);
  }
  t.end();
});

void t.test('README lists every config file key', (t) => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const table = readme.split('\n').find((line) => line.startsWith('| `listen`'));
  t.ok(table, 'the file key table');
  for (const setting of SETTINGS) t.match(table, `\`${setting.file}\``, setting.file);
  t.end();
});

void t.test('each setting is a parseArgs option: a switch without a placeholder, else a value', (t) => {
  t.same(
    Object.keys(SETTING_FLAGS),
    SETTINGS.map((s) => s.flag.slice(2)),
  );
  for (const setting of SETTINGS) {
    t.equal(SETTING_FLAGS[setting.flag.slice(2)].type, setting.placeholder ? 'string' : 'boolean', setting.flag);
    t.equal(SETTING_FLAGS[setting.flag.slice(2)].multiple, setting.repeatable, `${setting.flag}: repeatable`);
  }
  t.end();
});

void t.test('help entries: the flag as typed, and the default as it is written', (t) => {
  const entries = settingsHelp();
  t.same(
    entries.map((e) => e.usage),
    SETTINGS.map((s) => (s.placeholder ? `${s.flag} ${s.placeholder}` : s.flag)),
  );
  const help = Object.fromEntries(SETTINGS.map((s, i) => [s.flag, entries[i].help]));
  t.match(help['--listen'], /\(default :9478\)$/, 'a string');
  t.match(help['--series-ttl'], /\(default 10m\)$/, 'a duration');
  t.match(help['--capabilities-keep'], /\(default none\)$/, 'an empty list');
  t.match(help['--attribution'], /\(default true\)$/, 'a boolean with a value');
  t.match(help['--probes'], /\(syscalls, syscall_counts\) are not in the default \(default process,/, 'the probes');
  t.notMatch(help['--strict'], /default/, 'none for a switch: off unless given');
  t.notMatch(help['--pid'], /default/, 'none for an unset setting');
  t.end();
});
