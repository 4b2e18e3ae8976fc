// A counter's label key: the label fields of a record packed into 32-bit
// words, in label order. This module is the one place that knows the packing:
// which field kinds can be labels, how many words each takes, the statements
// that load them from a record (for the compiled record path, counterSource)
// and how the stored words turn back into label values.
import type { Field } from '../decode/RecordLayout';
import { readCString } from '../decode/readField';
import type { Labels } from './MetricFamily';

/** Field kinds a label can read. */
const LABEL_KINDS: ReadonlySet<string> = new Set(['string', 'u8', 's8', 'u16', 's16', 'u32', 's32', 'u64']);

export interface LabelSource {
  label: string;
  field: Field;
  /** Turns an integer field into the label value (default: decimal). */
  format?: (value: number) => string;
  /**
   * Turns a u64 field into several labels, in place of `label` (a cgroup id
   * into namespace, pod and container). Asked at every collection, since
   * what it knows can change (a pod seen after its first records).
   */
  expand?: (value: bigint) => Labels;
}

/** Throws, naming the metric and the label, unless `source` can be packed. */
export function checkLabelSource(metric: string, { label, field }: LabelSource): void {
  if (!LABEL_KINDS.has(field.kind)) {
    throw new Error(
      `${metric}: label '${label}' reads field '${field.name}' of kind ${field.kind}; labels take strings, integers up to 32 bits, or u64s`,
    );
  }
  // Strings and u64s are loaded as aligned 32-bit words.
  if ((field.kind === 'string' || field.kind === 'u64') && (field.size % 4 !== 0 || field.offset % 4 !== 0)) {
    throw new Error(
      `${metric}: label '${label}' reads ${field.kind} (${field.size} bytes) at offset ${field.offset}; string and u64 labels need size and offset multiples of 4`,
    );
  }
}

export function labelWords(field: Field): number {
  if (field.kind === 'string') return field.size / 4;
  return field.kind === 'u64' ? 2 : 1;
}

/** Words of the key of these fields; a counter without labels has one series, keyed by a single zero word. */
export function keyWords(fields: readonly Field[]): number {
  return Math.max(
    fields.reduce((sum, field) => sum + labelWords(field), 0),
    1,
  );
}

/**
 * Statements that load the key words `w0`, `w1`, ... of the record at
 * `record` (with `view`, `words` and a scratch `z` in scope).
 */
export function keySource(fields: readonly Field[]): string[] {
  const lines: string[] = [];
  let first = 0;
  fields.forEach((field, index) => {
    lines.push(...loadLabel(field, index, first));
    first += labelWords(field);
  });
  return lines;
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

/** One source's value in a stored key: a label value, or for an expanded u64 its raw id. */
export type DecodedLabel = { label: string } | { raw: bigint };

/** The value of each source in a stored key, in source order. */
export function decodeKey(key: Int32Array, sources: readonly LabelSource[]): DecodedLabel[] {
  const bytes = new DataView(key.buffer, key.byteOffset, key.byteLength);
  const decoded: DecodedLabel[] = [];
  let offset = 0;
  for (const source of sources) {
    const { field } = source;
    if (field.kind === 'string') {
      decoded.push({ label: readCString(bytes, offset, field.size) });
    } else if (field.kind === 'u64') {
      const raw = bytes.getBigUint64(offset, true);
      decoded.push(source.expand ? { raw } : { label: String(raw) });
    } else {
      const raw = field.kind.startsWith('s') ? bytes.getInt32(offset, true) : bytes.getUint32(offset, true);
      decoded.push({ label: source.format ? source.format(raw) : String(raw) });
    }
    offset += labelWords(field) * 4;
  }
  return decoded;
}
