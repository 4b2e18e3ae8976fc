// The per-record statements of a counter, compiled into the drain loop
// (drain/RecordLoop). Generic loops over a label plan cost about twice an
// unrolled body on this path (measured: 13 vs 7 ns/record, see
// bench/README.md), so the body is generated once per counter: each label
// word is loaded into a local (labelCodec), hashed, and compared against the
// table in place. Only numbers (offsets, sizes) and fixed kinds go into the
// generated source, never record data or names.
import type { Field } from '../decode/RecordLayout';
import type { ByteKeyTable } from './ByteKeyTable';
import { hashSource } from './ByteKeyTable';
import { keySource, keyWords } from './labelCodec';

/** What the compiled statements touch on their counter. */
export interface CounterState {
  readonly table: ByteKeyTable;
  values: Float64Array;
  /** Receives the key words of a label set not seen before. */
  readonly scratch: Int32Array;
  /** Slow path: intern the key in `scratch` (or count it as overflow), then add one. */
  addNew(hash: number): void;
}

/**
 * Statements that count the record at `record` (words and view in scope) in
 * the series of its labels, for a CounterState reachable as `counter`. They
 * sit in a block labelled `label` and leave it with `break label;`.
 */
export function counterBlock(fields: readonly Field[], counter: string, label: string): string {
  const names = Array.from({ length: keyWords(fields) }, (_, i) => `w${i}`);
  const body: string[] = [
    `let z = 0, h = 0${names.map((w) => `, ${w} = 0`).join('')};`,
    ...keySource(fields),
    hashSource(names),
    `const table = ${counter}.table, slots = table.slots, keys = table.keys, hashes = table.hashes;`,
    'const slotMask = slots.length - 1;',
    'for (let s = h & slotMask; ; s = (s + 1) & slotMask) {',
    '  const id = slots[s];',
    `  if (id === -1) { ${names.map((w, i) => `${counter}.scratch[${i}] = ${w};`).join(' ')} ${counter}.addNew(h); break ${label}; }`,
    `  if (hashes[id] === h) { const b = id * ${names.length};`,
    `    if (${names.map((w, i) => `keys[b + ${i}] === ${w}`).join(' && ')}) { ${counter}.values[id]++; break ${label}; } }`,
    '}',
  ];
  return `${label}: {\n${body.join('\n')}\n}`;
}
