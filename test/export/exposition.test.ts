// The text exposition of the agent's families: the format Prometheus parses
// (escaping, cumulative buckets, +Inf), and the yields that let ring drains
// run during a long scrape.
import t from 'tap';

import type { HistogramFamily, Sample, ScalarFamily } from '../../src/aggregate/MetricFamily';
import { ComputedFamily } from '../../src/aggregate/MetricFamily';
import { renderFamilies } from '../../src/export/exposition';
import { YIELD_EVERY } from '../../src/export/familyWalk';
import { loopTurnsDuring } from '../helpers/loopTurns';

void t.test('HELP, TYPE, escaped label values, cumulative buckets', async (t) => {
  const samples: Sample[] = [
    { labels: {}, value: 3 },
    { labels: { comm: 'a"b\\c\nd', op: 'x' }, value: 1.5 },
  ];
  const counter = new ComputedFamily('ks_calls_total', 'Calls.\nSecond line \\ here.', 'counter', () => samples);
  const histogram: HistogramFamily = {
    name: 'ks_duration_seconds',
    help: 'Duration.',
    type: 'histogram',
    collect: () => [{ labels: { disk: 'vda' }, bounds: [0.001, 0.004], counts: [1, 2, 3], sum: 0.5, count: 6 }],
  };
  t.equal(
    await renderFamilies([counter, histogram]),
    [
      '# HELP ks_calls_total Calls.\\nSecond line \\\\ here.',
      '# TYPE ks_calls_total counter',
      'ks_calls_total 3',
      'ks_calls_total{comm="a\\"b\\\\c\\nd",op="x"} 1.5',
      '# HELP ks_duration_seconds Duration.',
      '# TYPE ks_duration_seconds histogram',
      'ks_duration_seconds_bucket{disk="vda",le="0.001"} 1',
      'ks_duration_seconds_bucket{disk="vda",le="0.004"} 3',
      'ks_duration_seconds_bucket{disk="vda",le="+Inf"} 6',
      'ks_duration_seconds_sum{disk="vda"} 0.5',
      'ks_duration_seconds_count{disk="vda"} 6',
      '',
    ].join('\n'),
  );
});

void t.test('a long render yields to the event loop', async (t) => {
  const many: ScalarFamily = new ComputedFamily('ks_many_total', 'Many.', 'counter', () =>
    Array.from({ length: 3 * YIELD_EVERY }, (_, i) => ({ labels: { i: String(i) }, value: i })),
  );
  const { result: text, turns } = await loopTurnsDuring(() => renderFamilies([many]));
  t.equal(text.split('\n').length, 3 * YIELD_EVERY + 3, 'every series, after HELP and TYPE');
  t.ok(turns >= 2, `the event loop turned ${turns} times during the render`);
});
