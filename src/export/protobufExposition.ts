// The Prometheus protobuf exposition of the agent's families: each family a
// MetricFamily message of prometheus/client_model's metrics.proto, preceded
// by its length as a varint, on the same walk as the text one
// (familyWalk.ts). Histograms carry their classic buckets and, when the
// family's slots are exponential buckets, the native histogram beside them:
// the format Prometheus' native histograms need (--enable-feature=
// native-histograms asks for it, HttpServer.ts).
import type {
  ExponentialBuckets,
  HistogramSample,
  Labels,
  MetricFamily,
  Sample,
  ScalarFamily,
} from '../aggregate/MetricFamily';
import { walkFamilies } from './familyWalk';
import { ProtobufWriter, WIRE_LEN, WIRE_VARINT, varintSize, zigzag } from './ProtobufWriter';

export const PROTOBUF_CONTENT_TYPE =
  'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

/**
 * The native histograms' zero threshold. Our zero bucket holds exact zeros only, which a threshold of 0
 * says, but Prometheus up to 2.46 takes a histogram with a threshold of 0 and no observation yet for a
 * classic one (textparse isNativeHistogram; 2.47 also looks for the no-op span client_golang adds then),
 * and 2.42 decides for the whole family from its first series. So: 2^-128, client_golang's
 * DefNativeHistogramZeroThreshold, a bucket boundary at every schema and far below our first bucket
 * (bpf/histogram.h: index -30 * 2^schema, above 2^-31 s), so the zero bucket still holds only zeros.
 */
export const NATIVE_ZERO_THRESHOLD = 2 ** -128;

/** metrics.proto field numbers, by message. */
const FAMILY = { name: 1, help: 2, type: 3, metric: 4 };
const LABEL_PAIR = { name: 1, value: 2 };
const METRIC = { label: 1, gauge: 2, counter: 3, histogram: 7 };
/** Gauge.value and Counter.value. */
const VALUE = 1;
const HISTOGRAM = {
  sampleCount: 1,
  sampleSum: 2,
  bucket: 3,
  schema: 5,
  zeroThreshold: 6,
  zeroCount: 7,
  positiveSpan: 12,
  positiveDelta: 13,
};
const BUCKET = { cumulativeCount: 1, upperBound: 2 };
const SPAN = { offset: 1, length: 2 };
const METRIC_TYPE = { counter: 0, gauge: 1, histogram: 4 };

/** A tag, (field << 3) | wire type, is one byte for every field number here (below 16). */
const tagByte = (field: number, wireType: number): number => field * 8 + wireType;
const BUCKET_COUNT_TAG = tagByte(BUCKET.cumulativeCount, WIRE_VARINT);
const SPAN_OFFSET_TAG = tagByte(SPAN.offset, WIRE_VARINT);
const SPAN_LENGTH_TAG = tagByte(SPAN.length, WIRE_VARINT);

/**
 * Each label set's encoded LabelPair fields, kept for as long as the set lives: counters hand out the same
 * Labels object for a series scrape after scrape (RecordCounter), so it is encoded once, not per scrape.
 */
const labelBytes = new WeakMap<Labels, Buffer>();

function writeLabels(writer: ProtobufWriter, labels: Labels): void {
  const cached = labelBytes.get(labels);
  if (cached) return writer.raw(cached);
  const start = writer.length;
  for (const name in labels) {
    const pair = writer.begin(METRIC.label);
    writer.stringField(LABEL_PAIR.name, name);
    writer.stringField(LABEL_PAIR.value, labels[name]);
    writer.end(pair);
  }
  labelBytes.set(labels, writer.copyFrom(start));
}

function writeScalar(writer: ProtobufWriter, family: ScalarFamily, sample: Sample): void {
  const metric = writer.begin(FAMILY.metric);
  writeLabels(writer, sample.labels);
  // Gauge and Counter: the value's tag and 8 bytes.
  writer.tag(family.type === 'counter' ? METRIC.counter : METRIC.gauge, WIRE_LEN);
  writer.varint(9);
  writer.doubleField(VALUE, sample.value);
  writer.end(metric);
}

/** Runs of non-zero buckets, each a span: the first's offset is its bucket index, the others' the gap before them. */
function writeSpans(writer: ProtobufWriter, { offset, counts }: ExponentialBuckets): void {
  let previousEnd: number | undefined;
  for (let i = 0; i < counts.length;) {
    if (counts[i] === 0) {
      i++;
      continue;
    }
    let end = i + 1;
    while (end < counts.length && counts[end] !== 0) end++;
    const spanOffset = zigzag(previousEnd === undefined ? offset + i : i - previousEnd);
    const length = end - i;
    writer.tag(HISTOGRAM.positiveSpan, WIRE_LEN);
    writer.varint(2 + varintSize(spanOffset) + varintSize(length));
    writer.varint(SPAN_OFFSET_TAG);
    writer.varint(spanOffset);
    writer.varint(SPAN_LENGTH_TAG);
    writer.varint(length);
    previousEnd = end;
    i = end;
  }
}

function writeNative(writer: ProtobufWriter, buckets: ExponentialBuckets): void {
  writer.sintField(HISTOGRAM.schema, buckets.schema);
  writer.doubleField(HISTOGRAM.zeroThreshold, NATIVE_ZERO_THRESHOLD);
  writer.uintField(HISTOGRAM.zeroCount, buckets.zeroCount);
  writeSpans(writer, buckets);
  if (!buckets.counts.some((count) => count !== 0)) return;
  // Packed (as proto3 encodes repeated numbers; Prometheus reads both forms): each span's counts, as
  // differences from the bucket before, across spans too.
  const deltas = writer.begin(HISTOGRAM.positiveDelta);
  let previous = 0;
  for (const count of buckets.counts) {
    if (count === 0) continue;
    writer.varint(zigzag(count - previous));
    previous = count;
  }
  writer.end(deltas);
}

function writeHistogram(writer: ProtobufWriter, sample: HistogramSample): void {
  const metric = writer.begin(FAMILY.metric);
  writeLabels(writer, sample.labels);
  const histogram = writer.begin(METRIC.histogram);
  writer.uintField(HISTOGRAM.sampleCount, sample.count);
  writer.doubleField(HISTOGRAM.sampleSum, sample.sum);
  // The finite buckets only, as client_golang writes them: the +Inf one is sample_count.
  let cumulative = 0;
  for (let i = 0; i < sample.bounds.length; i++) {
    cumulative += sample.counts[i];
    // Bucket: a tag and the count, a tag and 8 bytes.
    writer.tag(HISTOGRAM.bucket, WIRE_LEN);
    writer.varint(10 + varintSize(cumulative));
    writer.varint(BUCKET_COUNT_TAG);
    writer.varint(cumulative);
    writer.doubleField(BUCKET.upperBound, sample.bounds[i]);
  }
  if (sample.exponential) writeNative(writer, sample.exponential);
  writer.end(histogram);
  writer.end(metric);
}

/**
 * The delimited MetricFamily messages of `families`, yielding to the event loop as it goes. A family with
 * no series is left out (Prometheus skips it, client_golang never writes one). `capacity`: the buffer to
 * start with, e.g. the previous scrape's size, so that it is allocated once.
 */
export async function encodeFamilies(families: readonly MetricFamily[], capacity?: number): Promise<Buffer> {
  const writer = new ProtobufWriter(capacity);
  let familyStart = 0;
  let message = 0;
  let metrics = 0;
  await walkFamilies(families, {
    family: (family) => {
      familyStart = writer.length;
      metrics = 0;
      message = writer.beginDelimited();
      writer.stringField(FAMILY.name, family.name);
      writer.stringField(FAMILY.help, family.help);
      writer.uintField(FAMILY.type, METRIC_TYPE[family.type]);
    },
    scalar: (family, sample) => {
      writeScalar(writer, family, sample);
      metrics++;
    },
    histogram: (_family, sample) => {
      writeHistogram(writer, sample);
      metrics++;
    },
    familyEnd: () => (metrics > 0 ? writer.end(message) : writer.truncate(familyStart)),
  });
  return writer.finish();
}
