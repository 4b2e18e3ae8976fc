// ProbeAggregator: header checks, then every counter fed.
import t from 'tap';

import { ProbeAggregator } from '../../src/aggregate/ProbeAggregator';
import { execProbe } from '../../src/probes/exec';
import { ResolvedRecord } from '../../src/decode/ResolvedRecord';
import { drainRecords } from '../helpers/drainRecords';
import { cString, handExecLayout, writeFields } from '../helpers/records';

const layout = handExecLayout();
const EXEC = 1;

const record = new ResolvedRecord(layout, EXEC, 1);

/** Feeds the `length`-byte record at the start of `view` to the aggregator, through the drain loop. */
function feed(aggregator: ProbeAggregator, view: DataView, length: number): void {
  drainRecords(aggregator, view, [0], length);
}

/** An exec record, with 8 bytes to spare after it. */
function execRecord(values: Record<string, number | Uint8Array>): DataView {
  const bytes = new Uint8Array(layout.size + 8);
  writeFields(bytes, 0, layout, { 'hdr.type': EXEC, 'hdr.version': 1, comm: cString('sh', 16), ...values });
  return new DataView(bytes.buffer);
}

void t.test('valid records are counted, the rest are invalid', (t) => {
  const aggregator = new ProbeAggregator(execProbe, record, { limits: { maxSeries: 10, ttlMs: 0 } });
  t.equal(aggregator.counters.length, 1);
  t.equal(aggregator.counters[0].name, 'kernscope_process_execs_total');

  feed(aggregator, execRecord({}), layout.size);
  feed(aggregator, execRecord({ comm: cString('true', 16) }), layout.size + 8); // longer is fine
  feed(aggregator, execRecord({ 'hdr.type': 2 }), layout.size); // another record type
  feed(aggregator, execRecord({ 'hdr.version': 2 }), layout.size); // a layout this decoder does not know
  feed(aggregator, execRecord({}), layout.size - 1); // truncated
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
  t.throws(() => new ProbeAggregator(broken, record, { limits: { maxSeries: 10, ttlMs: 0 } }), {
    message: /no field 'no_such_field'/,
  });
  t.end();
});

void t.test('a view that starts inside its buffer (byteOffset 16) is read at its own offsets', (t) => {
  const aggregator = new ProbeAggregator(execProbe, record, { limits: { maxSeries: 10, ttlMs: 0 } });
  const buffer = new Uint8Array(16 + layout.size);
  writeFields(buffer, 0, layout, { comm: cString('decoy', 16) }); // bytes before the view
  writeFields(buffer, 16, layout, { 'hdr.type': EXEC, 'hdr.version': 1, comm: cString('inside', 16) });
  feed(aggregator, new DataView(buffer.buffer, 16, layout.size), layout.size);
  t.equal(aggregator.invalid, 0);
  t.same(aggregator.counters[0].collect(), [{ labels: { comm: 'inside' }, value: 1 }]);
  t.end();
});
