// Compiles a counter's per-record `add` for its label plan. Generic loops over
// a plan cost about twice an unrolled body on this path (measured: 13 vs 7
// ns/record, see bench/README.md), so the body is generated once per counter:
// each label word is loaded into a local, hashed, and compared against the
// table in place. Only numbers (offsets, sizes) and fixed kinds go into the
// generated source, never record data or names.
import type { Field } from '../decode/RecordLayout';
import type { ByteKeyTable } from './ByteKeyTable';

/** What the compiled function touches on its counter. */
export interface CounterState {
  readonly table: ByteKeyTable;
  values: Float64Array;
  /** Receives the key words of a label set not seen before. */
  readonly scratch: Int32Array;
  /** Slow path: intern the key in `scratch` (or count it as overflow), then add. */
  addNew(hash: number, amount: number): void;
}

export type AddFunction = (view: DataView, words: Int32Array, record: number, amount?: number) => void;

/** Label kinds a counter accepts; strings and u64s need 4-byte size and offset (loaded as words). */
export const LABEL_KINDS: ReadonlySet<string> = new Set(['string', 'u8', 's8', 'u16', 's16', 'u32', 's32', 'u64']);

export function labelWords(field: Field): number {
  if (field.kind === 'string') return field.size / 4;
  return field.kind === 'u64' ? 2 : 1;
}

function loadLabel(field: Field, index: number, first: number): string[] {
  const at = `record + ${field.offset}`;
  switch (field.kind) {
    case 'string': {
      // From the first NUL on the key is zero: the rest of the field is stale ring memory.
      const lines = [`const base${index} = (${at}) >> 2;`, `let alive${index} = -1;`];
      for (let i = 0; i < field.size / 4; i++) {
        const w = `w${first + i}`;
        lines.push(
          `${w} = words[base${index} + ${i}] & alive${index};`,
          `z = (${w} - 0x01010101) & ~${w} & 0x80808080;`, // lowest set bit: the first NUL byte
          `if (z !== 0) { ${w} &= ((z & -z) >>> 7) - 1; alive${index} = 0; }`,
        );
      }
      return lines;
    }
    case 'u8':
      return [`w${first} = view.getUint8(${at});`];
    case 's8':
      return [`w${first} = view.getInt8(${at});`];
    case 'u16':
      return [`w${first} = view.getUint16(${at}, true);`];
    case 's16':
      return [`w${first} = view.getInt16(${at}, true);`];
    case 'u64': // low word, high word (little-endian)
      return [`w${first} = words[(${at}) >> 2];`, `w${first + 1} = words[((${at}) >> 2) + 1];`];
    default: // u32, s32: same 32 bits
      return [field.offset % 4 === 0 ? `w${first} = words[(${at}) >> 2];` : `w${first} = view.getInt32(${at}, true);`];
  }
}

/**
 * Statements that add `amount` to the series of the record at `record` (words
 * and view in scope), for a counter reachable as `counter`. They sit in a block
 * labelled `label` and leave it with `break label;`.
 */
export function counterBlock(fields: readonly Field[], counter: string, label: string, amount: string): string {
  // A counter without labels has one series, keyed by a single zero word.
  const width = Math.max(
    fields.reduce((sum, field) => sum + labelWords(field), 0),
    1,
  );
  const names = Array.from({ length: width }, (_, i) => `w${i}`);
  const body: string[] = [`let z = 0, h = 0${names.map((w) => `, ${w} = 0`).join('')};`];
  let first = 0;
  fields.forEach((field, index) => {
    body.push(...loadLabel(field, index, first));
    first += labelWords(field);
  });
  // Same hash as hashKey(): rotate-xor per word, one multiply to finish.
  for (const w of names) body.push(`h = ((h << 5) | (h >>> 27)) ^ ${w};`);
  body.push(
    'h = Math.imul(h, 0x9e3779b1); h ^= h >>> 16;',
    `const table = ${counter}.table, slots = table.slots, keys = table.keys, hashes = table.hashes;`,
    'const slotMask = slots.length - 1;',
    'for (let s = h & slotMask; ; s = (s + 1) & slotMask) {',
    '  const id = slots[s];',
    `  if (id === -1) { ${names.map((w, i) => `${counter}.scratch[${i}] = ${w};`).join(' ')} ${counter}.addNew(h, ${amount}); break ${label}; }`,
    `  if (hashes[id] === h) { const b = id * ${width};`,
    `    if (${names.map((w, i) => `keys[b + ${i}] === ${w}`).join(' && ')}) { ${counter}.values[id] += ${amount}; break ${label}; } }`,
    '}',
  );
  return `${label}: {\n${body.join('\n')}\n}`;
}

/** The counter's own `add`, compiled from the same block. */
export function compileCounterAdd(fields: readonly Field[], state: CounterState): AddFunction {
  const source = `return function add(view, words, record, amount = 1) {\n${counterBlock(fields, 'state', 'add', 'amount')}\n};`;
  // Deliberate code generation (see the top of this file); the source holds only numbers and fixed text.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval, @typescript-eslint/no-unsafe-call
  return new Function('state', source)(state) as AddFunction;
}
