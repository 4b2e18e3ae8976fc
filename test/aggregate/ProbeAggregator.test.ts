// ProbeAggregator: header checks, then every counter fed.
import t from 'tap';

import { ProbeAggregator } from '../../src/aggregate/ProbeAggregator';
import { execProbe } from '../../src/probes/exec';
import { cString, handExecLayout, wordsOf, writeFields } from '../helpers/records';

const layout = handExecLayout();
const EXEC = 1;

/** Feeds one record held in `view` (at offset 0) to the aggregator. */
function feed(aggregator: ProbeAggregator, view: DataView, length: number): void {
  aggregator.onRecord(view, wordsOf(view), 0, length);
}

function record(values: Record<string, number | Uint8Array>): DataView {
  const bytes = new Uint8Array(layout.size);
  writeFields(bytes, 0, layout, { 'hdr.type': EXEC, 'hdr.version': 1, comm: cString('sh', 16), ...values });
  return new DataView(bytes.buffer);
}

void t.test('valid records are counted, the rest are invalid', (t) => {
  const aggregator = new ProbeAggregator(execProbe, layout, EXEC, { maxSeriesPerMetric: 10 });
  t.equal(aggregator.counters.length, 1);
  t.equal(aggregator.counters[0].name, 'kernscope_process_execs_total');

  feed(aggregator, record({}), layout.size);
  feed(aggregator, record({ comm: cString('true', 16) }), layout.size + 8); // longer is fine
  feed(aggregator, record({ 'hdr.type': 2 }), layout.size); // another record type
  feed(aggregator, record({ 'hdr.version': 2 }), layout.size); // a layout this decoder does not know
  feed(aggregator, record({}), layout.size - 1); // truncated
  t.equal(aggregator.invalid, 3);
  t.same(aggregator.counters[0].collect(), [
    { labels: { comm: 'sh' }, value: 1 },
    { labels: { comm: 'true' }, value: 1 },
  ]);
  t.end();
});

void t.test('a metric label naming a field the record lacks fails at construction', (t) => {
  const broken = {
    ...execProbe,
    recordMetrics: [{ type: 'counter' as const, name: 'm', help: 'h', labels: { x: 'no_such_field' } }],
  };
  t.throws(() => new ProbeAggregator(broken, layout, EXEC, { maxSeriesPerMetric: 10 }), {
    message: /no field 'no_such_field'/,
  });
  t.end();
});

void t.test('a view that starts inside its buffer (byteOffset 16) is read at its own offsets', (t) => {
  // RecordSink.onRecord takes any DataView (with its int32 view); only their offsets are meaningful.
  const aggregator = new ProbeAggregator(execProbe, layout, EXEC, { maxSeriesPerMetric: 10 });
  const buffer = new Uint8Array(16 + layout.size);
  writeFields(buffer, 0, layout, { comm: cString('decoy', 16) }); // bytes before the view
  writeFields(buffer, 16, layout, { 'hdr.type': EXEC, 'hdr.version': 1, comm: cString('inside', 16) });
  feed(aggregator, new DataView(buffer.buffer, 16, layout.size), layout.size);
  t.equal(aggregator.invalid, 0);
  t.same(aggregator.counters[0].collect(), [{ labels: { comm: 'inside' }, value: 1 }]);
  t.end();
});
