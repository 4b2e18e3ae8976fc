// A real OTLP/gRPC metrics receiver for tests: grpc-js serving
// opentelemetry.proto.collector.metrics.v1.MetricsService/Export on 127.0.0.1,
// recording every request (decoded) and its metadata, in order. Requests are
// decoded with the protobufjs code the OpenTelemetry project generates from the
// official OTLP .proto files (otlp-transformer 0.200's generated/root.js), not
// with the exporter's own serializer, so a test reads what a collector would.
import type { sendUnaryData, ServerUnaryCall, ServiceDefinition } from '@grpc/grpc-js';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import * as generated from 'otlp-proto-root/build/src/generated/root';

import type { HasTeardown } from './teardown';
import { waitFor } from './teardown';

// root.d.ts types the module as a bare protobufjs Root; this is the part used.
interface MessageClass {
  decode(bytes: Uint8Array): object;
  encode(message: object): { finish(): Uint8Array };
  toObject(message: object, options: object): unknown;
}
type Generated = { opentelemetry: { proto: { collector: { metrics: { v1: Record<string, MessageClass> } } } } };
const { ExportMetricsServiceRequest: Request, ExportMetricsServiceResponse: Response } = (
  generated as unknown as Generated
).opentelemetry.proto.collector.metrics.v1;

// With `oneofs: true` a set oneof member is present and a virtual field names it
// (AnyValue.value, Metric.data, NumberDataPoint.value, `_sum` for proto3
// optionals); unset members are absent, even with `defaults: true`. int64 and
// fixed64 become Numbers (nanosecond timestamps keep ~256 ns precision), enums
// their names (AGGREGATION_TEMPORALITY_CUMULATIVE), bytes base64; an unset
// message field is null.
const DECODE = { longs: Number, enums: String, bytes: String, defaults: true, arrays: true, oneofs: true };

type Attributes = Record<string, string | number | boolean>;
type AnyValue = { value?: string; arrayValue?: { values: AnyValue[] }; kvlistValue?: { values: KeyValue[] } };
type KeyValue = { key: string; value?: AnyValue };
type DataPoint = Omit<ReceivedPoint, 'attributes' | 'value' | 'bounds' | 'positive' | 'negative'> & {
  attributes: KeyValue[];
  value?: 'asDouble' | 'asInt';
  asDouble?: number;
  asInt?: number;
  explicitBounds?: number[];
  // ExponentialHistogramDataPoint: an unset Buckets message decodes as null.
  positive?: ExponentialBuckets | null;
  negative?: ExponentialBuckets | null;
};
type DataSet = { dataPoints: DataPoint[]; aggregationTemporality?: string; isMonotonic?: boolean };
type Kind = ReceivedMetric['kind'];
// Only the member named by `data` is present.
type Metric = { name: string; description: string; unit: string; data: Kind | 'summary' } & Record<Kind, DataSet>;
/** ExportMetricsServiceRequest as decoded: the fields read here (the object has them all). */
export type DecodedRequest = {
  resourceMetrics: { resource?: { attributes: KeyValue[] }; scopeMetrics: { metrics: Metric[] }[] }[];
};

/** `metadata`: the request's gRPC metadata (headers); binary `-bin` values as base64. */
export type ReceivedRequest = { body: DecodedRequest; metadata: Record<string, string> };

/** One range of an exponential histogram: `bucketCounts[i]` counts bucket index `offset + i`. */
export interface ExponentialBuckets {
  offset: number;
  bucketCounts: number[];
}

export interface ReceivedPoint {
  attributes: Attributes;
  /** Sum and gauge points (asDouble or asInt). */
  value?: number;
  /** Histogram points; `bounds` and `bucketCounts` for explicit-bucket histograms only. */
  count?: number;
  sum?: number;
  bounds?: number[];
  bucketCounts?: number[];
  /**
   * Exponential histogram points only: the fields as decoded (an unset range as offset 0 and no counts);
   * `min` and `max` only when sent.
   */
  scale?: number;
  zeroCount?: number;
  zeroThreshold?: number;
  positive?: ExponentialBuckets;
  negative?: ExponentialBuckets;
  min?: number;
  max?: number;
  startTimeUnixNano: number;
  timeUnixNano: number;
}

export interface ReceivedMetric {
  name: string;
  description: string;
  unit: string;
  kind: 'sum' | 'gauge' | 'histogram' | 'exponentialHistogram';
  /** undefined for gauges. */
  temporality: 'cumulative' | 'delta' | undefined;
  /** undefined except for sums. */
  isMonotonic: boolean | undefined;
  points: ReceivedPoint[];
}

function plain(value: AnyValue | undefined): unknown {
  if (value?.value === 'arrayValue') return value.arrayValue?.values.map(plain);
  if (value?.value === 'kvlistValue')
    return Object.fromEntries((value.kvlistValue?.values ?? []).map((kv) => [kv.key, plain(kv.value)]));
  return value?.value ? (value as Record<string, unknown>)[value.value] : undefined;
}

/** Flattens OTLP KeyValues: scalars as they are, arrays and kvlists as JSON text; empty values are left out. */
export function flattenAttributes(list: KeyValue[]): Attributes {
  const entries = list.map(({ key, value }) => [key, plain(value)] as const).filter(([, v]) => v !== undefined);
  return Object.fromEntries(
    entries.map(([key, v]) => [key, typeof v === 'object' ? JSON.stringify(v) : v]),
  ) as Attributes;
}

function toPoint(kind: Kind, p: DataPoint): ReceivedPoint {
  const point: ReceivedPoint = {
    attributes: flattenAttributes(p.attributes),
    startTimeUnixNano: p.startTimeUnixNano,
    timeUnixNano: p.timeUnixNano,
  };
  if (kind === 'sum' || kind === 'gauge') return { ...point, value: p.value && p[p.value] };
  if (p.sum !== undefined) point.sum = p.sum;
  if (kind === 'histogram') Object.assign(point, { bounds: p.explicitBounds, bucketCounts: p.bucketCounts });
  if (kind === 'exponentialHistogram') {
    const range = (b: ExponentialBuckets | null | undefined) => ({
      offset: b?.offset ?? 0,
      bucketCounts: b?.bucketCounts ?? [],
    });
    const { scale, zeroCount, zeroThreshold, min, max } = p;
    Object.assign(point, { scale, zeroCount, zeroThreshold, positive: range(p.positive), negative: range(p.negative) });
    if (min !== undefined) point.min = min;
    if (max !== undefined) point.max = max;
  }
  return { ...point, count: p.count };
}

const TEMPORALITY: Record<string, 'cumulative' | 'delta'> = {
  AGGREGATION_TEMPORALITY_CUMULATIVE: 'cumulative',
  AGGREGATION_TEMPORALITY_DELTA: 'delta',
};

export class OtlpReceiver {
  private stopped = false;

  private constructor(
    readonly port: number,
    /** Every request received, in order. */
    readonly requests: ReceivedRequest[],
    private readonly server: Server,
    private readonly answers: { delayMs: number },
  ) {}

  /** How long each answer waits after its request is recorded: a slow collector. */
  set answerDelayMs(ms: number) {
    this.answers.delayMs = ms;
  }

  /** Listens on 127.0.0.1:`port` (0: an ephemeral one), over TLS if given; stopped at teardown. */
  static async start(
    t: HasTeardown,
    { port = 0, tls }: { port?: number; tls?: { cert: Buffer; key: Buffer } } = {},
  ): Promise<OtlpReceiver> {
    const server = new Server();
    const service: ServiceDefinition = {
      Export: {
        path: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
        requestStream: false,
        responseStream: false,
        requestDeserialize: (bytes: Buffer) => Request.toObject(Request.decode(bytes), DECODE),
        responseSerialize: () => Buffer.from(Response.encode({}).finish()),
        // The client half, which ServiceDefinition requires too.
        requestSerialize: (request: object) => Buffer.from(Request.encode(request).finish()),
        responseDeserialize: (bytes: Buffer) => Response.decode(bytes),
      },
    };
    const requests: ReceivedRequest[] = [];
    const answers = { delayMs: 0 };
    server.addService(service, {
      Export: (call: ServerUnaryCall<DecodedRequest, object>, callback: sendUnaryData<object>) => {
        const headers = Object.entries(call.metadata.getMap());
        const metadata = headers.map(([k, v]) => [k, typeof v === 'string' ? v : v.toString('base64')]);
        requests.push({ body: call.request, metadata: Object.fromEntries(metadata) as Record<string, string> });
        if (answers.delayMs > 0) setTimeout(() => callback(null, {}), answers.delayMs).unref();
        else callback(null, {});
      },
    });
    const credentials = tls
      ? ServerCredentials.createSsl(null, [{ cert_chain: tls.cert, private_key: tls.key }], false)
      : ServerCredentials.createInsecure();
    const bound = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, credentials, (err, p) => (err ? reject(err) : resolve(p))),
    );
    const receiver = new OtlpReceiver(bound, requests, server, answers);
    t.teardown(() => receiver.stop());
    return receiver;
  }

  /** Closes the port and every connection at once; idempotent. The port can be bound again at once. */
  stop(): Promise<void> {
    if (!this.stopped) this.server.forceShutdown();
    this.stopped = true;
    return Promise.resolve();
  }

  /** Resolves with the first `n` requests once they have arrived. */
  waitForRequests(n: number, timeoutMs = 5000): Promise<ReceivedRequest[]> {
    const check = () => (this.requests.length >= n ? this.requests.slice(0, n) : undefined);
    return waitFor(`${n} OTLP request(s) on port ${this.port}`, check, { timeoutMs });
  }

  /**
   * Every metric received, by name, merging all requests in order: name,
   * description, unit, kind and temporality come from the newest request that
   * has the metric, and each attribute set keeps its newest point (a series
   * missing from later requests keeps its last point). Summaries throw.
   */
  latestMetrics(): Map<string, ReceivedMetric> {
    const metrics = new Map<string, ReceivedMetric>();
    const series = new Map<string, Map<string, ReceivedPoint>>();
    const metricList = this.requests.flatMap((r) => r.body.resourceMetrics.flatMap((rm) => rm.scopeMetrics));
    for (const metric of metricList.flatMap((sm) => sm.metrics)) {
      const { name, description, unit, data: kind } = metric;
      if (kind === 'summary') throw new Error(`metric ${name}: summaries are not supported`);
      const data = metric[kind];
      const points = series.get(name) ?? new Map<string, ReceivedPoint>();
      series.set(name, points);
      for (const point of data.dataPoints.map((p) => toPoint(kind, p)))
        points.set(JSON.stringify(Object.entries(point.attributes).sort(([a], [b]) => (a < b ? -1 : 1))), point);
      const temporality = TEMPORALITY[data.aggregationTemporality ?? ''];
      const isMonotonic = kind === 'sum' ? Boolean(data.isMonotonic) : undefined;
      metrics.set(name, { name, description, unit, kind, temporality, isMonotonic, points: [...points.values()] });
    }
    return metrics;
  }

  /** Resource attributes of the newest request (of all its resources, merged); {} before any request. */
  resourceAttributes(): Attributes {
    const newest = this.requests.at(-1)?.body.resourceMetrics ?? [];
    return Object.assign({}, ...newest.map((rm) => flattenAttributes(rm.resource?.attributes ?? []))) as Attributes;
  }
}
