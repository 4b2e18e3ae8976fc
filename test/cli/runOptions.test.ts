// `kernscope run`'s flags and help, generated from the SETTINGS table, in
// this process (nothing is loaded).
import t from 'tap';

import { RUN_HELP, parseRunOptions } from '../../src/cli/run';
import { SETTINGS } from '../../src/config/settings';

void t.test('the generated flags parse as before: switches, values, run options', (t) => {
  const invocation = parseRunOptions(
    ['--strict', '--attribution', 'false', '--max-series', '7', '--series-ttl', '90s', '--check-config'],
    {},
  );
  t.not(invocation, 'help');
  if (invocation === 'help') return t.end();
  t.match(invocation.options, { strict: true, attribution: false, maxSeriesPerMetric: 7, seriesTtlMs: 90000 });
  t.equal(invocation.checkOnly, true);
  t.equal(parseRunOptions(['-h'], {}), 'help');
  t.throws(
    () => parseRunOptions(['--strict=yes'], {}),
    /--strict' does not take an argument; see kernscope run --help/,
  );
  t.end();
});

void t.test("run --help lists every setting and run's own flags, within 100 columns", (t) => {
  for (const setting of SETTINGS) {
    const usage = setting.placeholder ? `${setting.flag} ${setting.placeholder}` : setting.flag;
    t.match(RUN_HELP, new RegExp(`^  ${usage} `, 'm'), usage);
  }
  for (const flag of ['--config FILE', '--check-config', '-h, --help']) t.match(RUN_HELP, `\n  ${flag} `, flag);
  t.match(RUN_HELP, /also KERNSCOPE_CONFIG/, 'the config file variable');
  t.same(
    RUN_HELP.split('\n').filter((line) => line.length > 100),
    [],
  );
  t.end();
});
