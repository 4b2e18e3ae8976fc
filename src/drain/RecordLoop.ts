// Compiles the loop that walks a batch of ring records together with a sink's
// per-record code, so reading a record, checking it and aggregating it is one
// optimised function with no call per record (a call per record through
// generic layers cost about 1.5x the fused loop: see bench/README.md). Only
// fixed text and numbers from record layouts go into the source.

/** The per-record code a sink contributes. */
export interface RecordCode {
  /** Statements run once per batch, before the loop (e.g. hoisting state). */
  prelude: string;
  /**
   * Statements run per record, with `view` (DataView), `words` (Int32Array over
   * the same memory), `record` (byte offset, 8-aligned) and `length` (bytes) in
   * scope, and `state` bound to RecordCode.state. Leave early with `break thisRecord;`.
   */
  body: string;
  state: unknown;
}

export interface RecordSink {
  recordCode(): RecordCode;
}

/**
 * Walks complete records in `words` from byte `start` for at most `available`
 * bytes (offsets wrap at `mask`); returns the bytes walked, never more than
 * `available`. Stops early at a record the kernel is still writing. A header
 * whose record would end past `available` cannot come from the kernel (it
 * advances the producer position past the whole record before the header is
 * visible): the ring is corrupted there, no later record boundary can be
 * trusted, so the walk counts it and skips to `available` (the producer
 * position, always a boundary).
 */
export type BatchWalker = (view: DataView, words: Int32Array, start: number, available: number, mask: number) => number;

export type RecordHandler = (view: DataView, words: Int32Array, record: number, length: number) => void;

const HEADER_BYTES = 8; // BPF_RINGBUF_HDR_SZ
const DISCARDED = 0x40000000; // BPF_RINGBUF_DISCARD_BIT; the busy bit (bit 31) makes the word negative

/**
 * The header load must have acquire semantics: the kernel clears the busy bit
 * with a release once the record is written. On x86-64 every load is an
 * acquire in hardware (TSO) and V8 keeps typed-array loads in program order,
 * so a plain load is what libbpf's smp_load_acquire compiles to there;
 * elsewhere (arm64) Atomics.load gives the acquire. Atomics.load costs ~2.4
 * ns/record more on x86-64 (bench/README.md).
 */
const LOAD_HEADER = process.arch === 'x64' ? 'words[at >> 2]' : 'Atomics.load(words, at >> 2)';

function build<T>(source: string, state: unknown, counts?: Float64Array): T {
  // Deliberate code generation: the source is fixed text plus numbers from record layouts.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval, @typescript-eslint/no-unsafe-call
  return new Function('state', 'counts', source)(state, counts) as T;
}

/** Where a walker adds up what it saw (indices into its counts array). */
export const WALKED_RECORDS = 0;
/** Ring headers with an impossible length (see BatchWalker). */
export const CORRUPT_HEADERS = 1;

/** The batch walker for a sink; it adds to `counts` (at least 2 long) at WALKED_RECORDS and CORRUPT_HEADERS. */
export function compileRecordLoop(code: RecordCode, counts: Float64Array): BatchWalker {
  return build(
    `return function walk(view, words, start, available, mask) {
${code.prelude}
let walked = 0, records = 0;
while (walked < available) {
  const at = (start + walked) & mask;
  const header = ${LOAD_HEADER}; // acquire: see LOAD_HEADER

  if (header < 0) break;
  const length = header & ${DISCARDED - 1};
  const size = (length + ${HEADER_BYTES + 7}) & ~7;
  if (size > available - walked) { counts[${CORRUPT_HEADERS}]++; walked = available; break; }
  walked += size;
  if ((header & ${DISCARDED}) !== 0) continue;
  records++;
  const record = at + ${HEADER_BYTES};
  thisRecord: {
${code.body}
  }
}
counts[${WALKED_RECORDS}] += records;
return walked;
};`,
    code.state,
    counts,
  );
}

/** A sink that calls `fn` per record: simple, one call per record. */
export function callbackSink(fn: RecordHandler): RecordSink {
  return { recordCode: () => ({ prelude: '', body: 'state(view, words, record, length);', state: fn }) };
}
