// A counter keyed by label values taken straight from record fields. The hot
// path copies the label bytes into a scratch key and bumps a Float64Array slot;
// strings are decoded once per new series, and only at collection time.
import { readCString } from '../decode/readField';
import type { Field } from '../decode/RecordLayout';
import { ByteKeyTable, HASH_SEED, hashWord } from './ByteKeyTable';
import type { Labels, MetricFamily, Sample } from './MetricFamily';

export const OVERFLOW_LABEL_VALUE = '__overflow__';

export interface LabelSource {
  label: string;
  field: Field;
  /** Turns an integer field into the label value (default: decimal). */
  format?: (value: number) => string;
}

const LABEL_KINDS = new Set(['string', 'u8', 's8', 'u16', 's16', 'u32', 's32']);

// Label kinds as small integers, so the per-record loop is a few compares.
const KIND_CODES: Record<string, number> = { string: 0, u8: 1, s8: 2, u16: 3, s16: 4, u32: 5, s32: 5 };
const STRING = 0;
const U8 = 1;
const S8 = 2;
const U16 = 3;
const S16 = 4;

function wordsFor(field: Field): number {
  return field.kind === 'string' ? field.size / 4 : 1;
}

export class RecordCounter implements MetricFamily {
  readonly type = 'counter';
  private readonly table: ByteKeyTable;
  private readonly scratch: Uint32Array;
  /** Per label: kind code, field offset, field size. */
  private readonly plan: Int32Array;
  private values = new Float64Array(64);
  private readonly labelCache: Labels[] = [];
  private overflowValue = 0;
  /** Records whose new label set did not fit under the series cap. */
  overflowCount = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labels: readonly LabelSource[],
    private readonly maxSeries: number,
  ) {
    for (const { label, field } of labels) {
      if (!LABEL_KINDS.has(field.kind)) {
        throw new Error(
          `${name}: label '${label}' reads field '${field.name}' of kind ${field.kind}; labels take strings or integers up to 32 bits`,
        );
      }
      // The key loop reads strings as aligned 32-bit words (see loadKey).
      if (field.kind === 'string' && (field.size % 4 !== 0 || field.offset % 4 !== 0)) {
        throw new Error(
          `${name}: label '${label}' reads char[${field.size}] at offset ${field.offset}; string labels need size and offset multiples of 4`,
        );
      }
    }
    const words = labels.reduce((sum, source) => sum + wordsFor(source.field), 0);
    this.table = new ByteKeyTable(Math.max(words, 1));
    this.scratch = new Uint32Array(Math.max(words, 1));
    this.plan = Int32Array.from(labels.flatMap(({ field }) => [KIND_CODES[field.kind], field.offset, field.size]));
  }

  get seriesCount(): number {
    return this.table.size;
  }

  /**
   * Adds `amount` to the series named by this record's label fields. `words`
   * views the same memory as `view`; records start 8-byte aligned.
   */
  add(view: DataView, words: Int32Array, record: number, amount = 1): void {
    const hash = this.loadKey(view, words, record);
    let id = this.table.find(this.scratch, hash);
    if (id < 0) {
      if (this.table.size >= this.maxSeries) {
        this.overflowValue += amount;
        this.overflowCount++;
        return;
      }
      id = this.table.insert(this.scratch, hash);
      if (id >= this.values.length) this.growValues();
    }
    this.values[id] += amount;
  }

  collect(): Sample[] {
    const samples: Sample[] = [];
    for (let id = 0; id < this.table.size; id++) {
      samples.push({ labels: this.labelsOf(id), value: this.values[id] });
    }
    if (this.overflowValue > 0) {
      const labels = Object.fromEntries(this.labels.map((source) => [source.label, OVERFLOW_LABEL_VALUE]));
      samples.push({ labels, value: this.overflowValue });
    }
    return samples;
  }

  /** Copies the label fields into the scratch key and returns its hash; no calls, no allocation. */
  private loadKey(view: DataView, words: Int32Array, record: number): number {
    const key = this.scratch;
    const plan = this.plan;
    let hash = HASH_SEED;
    let w = 0;
    for (let p = 0; p < plan.length; p += 3) {
      const kind = plan[p];
      const at = record + plan[p + 1];
      if (kind === STRING) {
        // A word at a time; from the first NUL on the key is zero (the rest is stale ring memory).
        const end = w + plan[p + 2] / 4;
        let ended = false;
        // Typed-array loads: cheaper than DataView calls, and the field is 4-byte aligned.
        for (let i = at >> 2; w < end; i++) {
          let word = 0;
          if (!ended) {
            word = words[i];
            const zero = (word - 0x01010101) & ~word & 0x80808080; // lowest set bit: the first NUL byte
            if (zero !== 0) {
              word &= ((zero & -zero) >>> 7) - 1;
              ended = true;
            }
          }
          key[w++] = word;
          hash = hashWord(hash, word);
        }
        continue;
      }
      let word: number;
      if (kind === U8) word = view.getUint8(at);
      else if (kind === S8) word = view.getInt8(at);
      else if (kind === U16) word = view.getUint16(at, true);
      else if (kind === S16) word = view.getInt16(at, true);
      else word = view.getInt32(at, true);
      key[w++] = word;
      hash = hashWord(hash, word);
    }
    return hash;
  }

  private labelsOf(id: number): Labels {
    let labels = this.labelCache[id];
    if (labels) return labels;
    const key = this.table.key(id);
    const bytes = new DataView(key.buffer, key.byteOffset, key.byteLength);
    labels = {};
    let offset = 0;
    for (const source of this.labels) {
      const { field } = source;
      const words = wordsFor(field);
      if (field.kind === 'string') {
        labels[source.label] = readCString(bytes, offset, field.size);
      } else {
        const raw = field.kind.startsWith('s') ? bytes.getInt32(offset, true) : bytes.getUint32(offset, true);
        labels[source.label] = source.format ? source.format(raw) : String(raw);
      }
      offset += words * 4;
    }
    this.labelCache[id] = labels;
    return labels;
  }

  private growValues(): void {
    const values = new Float64Array(this.values.length * 2);
    values.set(this.values);
    this.values = values;
  }
}
