// The slots of the kernel's latency histograms (bpf/histogram.h), read in
// seconds: slot 0 counts zeros; slot j >= 1 is the Prometheus native bucket of
// index j - 1 - 30 * 2^schema, (2^((i-1)/2^schema), 2^(i/2^schema)] s, since
// the kernel counts in units of 2^-30 s, upper-inclusive. The slot count (from
// the object's BTF, histogramSlots) says the schema: 2 + 64 * 2^schema.

/** log2 of a second in kernel units (KS_UNIT_SHIFT). */
const UNIT_SHIFT = 30;
const OCTAVES = 64;
export const MAX_SCHEMA = 3;

/** The schema of a histogram of `slots` slots; throws when the count is not one of bpf/histogram.h's. */
export function schemaOfSlots(slots: number): number {
  for (let schema = 0; schema <= MAX_SCHEMA; schema++) {
    if (slots === 2 + (OCTAVES << schema)) return schema;
  }
  throw new Error(`${slots} histogram slots is no schema of bpf/histogram.h (2 + 64 * 2^schema)`);
}

/** The Prometheus native bucket index (in seconds) of slot `slot` >= 1. */
export function nativeIndexOfSlot(slot: number, schema: number): number {
  return slot - 1 - (UNIT_SHIFT << schema);
}

/** Slot `slot`'s upper edge in seconds (slot >= 1). */
export function slotUpperEdge(slot: number, schema: number): number {
  return 2 ** (nativeIndexOfSlot(slot, schema) / 2 ** schema);
}

/** The slot whose upper edge is `bound` seconds, or undefined when no slot's is. */
export function slotOfEdge(bound: number, schema: number, slots: number): number | undefined {
  const index = Math.log2(bound) * 2 ** schema;
  const rounded = Math.round(index);
  if (!(Math.abs(index - rounded) < 1e-9)) return undefined;
  const slot = rounded + 1 + (UNIT_SHIFT << schema);
  return slot >= 1 && slot < slots ? slot : undefined;
}

/** The smallest and largest power-of-two bound (seconds) a histogram's buckets may have at any schema. */
export const EDGE_RANGE = { min: 2 ** -UNIT_SHIFT, max: 2 ** (OCTAVES - UNIT_SHIFT) };
