// Which exposition /metrics answers with, from the scraper's Accept header:
// the protobuf one when it is asked for (its media type with
// proto=io.prometheus.client.MetricFamily and encoding=delimited) with a
// higher q than the text one gets, text otherwise. OpenMetrics is not served:
// a scraper that prefers it gets text, which it accepts too. Prometheus 2.42
// asks for OpenMetrics, then text (q=0.5); with --enable-feature=
// native-histograms, for protobuf first (q=1), then those (scrape/scrape.go,
// scrapeAcceptHeader and scrapeAcceptHeaderWithProtobuf; the strings are in
// test/export/HttpServer.test.ts).

export type ExpositionFormat = 'text' | 'protobuf';

interface MediaRange {
  /** `type/subtype`, lower case. */
  mediaType: string;
  params: Map<string, string>;
  q: number;
}

function parseRange(text: string): MediaRange {
  const [mediaType, ...params] = text.split(';').map((part) => part.trim());
  const range: MediaRange = { mediaType: mediaType.toLowerCase(), params: new Map(), q: 1 };
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0) continue;
    const name = param.slice(0, eq).trim().toLowerCase();
    const value = param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    if (name === 'q') {
      const q = Number(value);
      range.q = Number.isNaN(q) || value === '' ? 0 : Math.min(Math.max(q, 0), 1);
    } else {
      range.params.set(name, value);
    }
  }
  return range;
}

const isProtobuf = ({ mediaType, params }: MediaRange): boolean =>
  mediaType === 'application/vnd.google.protobuf' &&
  params.get('proto') === 'io.prometheus.client.MetricFamily' &&
  params.get('encoding')?.toLowerCase() === 'delimited';

/** The q of the most specific ranges that match text/plain: text/plain itself (any version), else text/any, else any. */
function textQ(ranges: readonly MediaRange[]): number {
  for (const mediaType of ['text/plain', 'text/*', '*/*']) {
    const matching = ranges.filter((range) => range.mediaType === mediaType);
    if (matching.length) return Math.max(...matching.map((range) => range.q));
  }
  return 0;
}

export function expositionFormat(accept: string | undefined): ExpositionFormat {
  if (!accept) return 'text';
  const ranges = accept.split(',').map(parseRange);
  const protobufQ = Math.max(0, ...ranges.filter(isProtobuf).map((range) => range.q));
  return protobufQ > textQ(ranges) ? 'protobuf' : 'text';
}
