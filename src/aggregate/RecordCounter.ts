// A counter keyed by label values taken straight from record fields. The hot
// path copies the label bytes into a scratch key and bumps a Float64Array slot;
// strings are decoded once per new series, and only at collection time.
import { readCString } from '../decode/readField';
import type { Field } from '../decode/RecordLayout';
import { ByteKeyTable } from './ByteKeyTable';
import type { Labels, MetricFamily, Sample } from './MetricFamily';

export const OVERFLOW_LABEL_VALUE = '__overflow__';

export interface LabelSource {
  label: string;
  field: Field;
  /** Turns an integer field into the label value (default: decimal). */
  format?: (value: number) => string;
}

const LABEL_KINDS = new Set(['string', 'u8', 's8', 'u16', 's16', 'u32', 's32']);

function wordsFor(field: Field): number {
  return field.kind === 'string' ? Math.ceil(field.size / 4) : 1;
}

/** Index of the first zero byte in a little-endian word, or 4. */
function firstZeroByte(word: number): number {
  for (let i = 0; i < 4; i++) if (((word >>> (i * 8)) & 0xff) === 0) return i;
  return 4;
}

export class RecordCounter implements MetricFamily {
  readonly type = 'counter';
  private readonly table: ByteKeyTable;
  private readonly scratch: Uint32Array;
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
    }
    const words = labels.reduce((sum, source) => sum + wordsFor(source.field), 0);
    this.table = new ByteKeyTable(Math.max(words, 1));
    this.scratch = new Uint32Array(Math.max(words, 1));
  }

  get seriesCount(): number {
    return this.table.size;
  }

  /** Adds `amount` to the series named by this record's label fields. */
  add(view: DataView, record: number, amount = 1): void {
    this.loadKey(view, record);
    let id = this.table.find(this.scratch);
    if (id < 0) {
      if (this.table.size >= this.maxSeries) {
        this.overflowValue += amount;
        this.overflowCount++;
        return;
      }
      id = this.table.insert(this.scratch);
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

  private loadKey(view: DataView, record: number): void {
    const key = this.scratch;
    let w = 0;
    for (const { field } of this.labels) {
      const at = record + field.offset;
      switch (field.kind) {
        case 'string':
          w = this.loadString(view, at, field.size, w);
          break;
        case 'u8':
          key[w++] = view.getUint8(at);
          break;
        case 's8':
          key[w++] = view.getInt8(at) >>> 0;
          break;
        case 'u16':
          key[w++] = view.getUint16(at, true);
          break;
        case 's16':
          key[w++] = view.getInt16(at, true) >>> 0;
          break;
        default: // u32, s32: the only other kinds the constructor accepts
          key[w++] = view.getUint32(at, true);
      }
    }
  }

  /** Copies a C string, zeroing everything after its NUL (the rest is stale ring memory). */
  private loadString(view: DataView, at: number, size: number, w: number): number {
    const key = this.scratch;
    let ended = false;
    for (let i = 0; i < size; i += 4) {
      if (ended) {
        key[w++] = 0;
        continue;
      }
      const word = this.loadWord(view, at + i, size - i);
      const zero = firstZeroByte(word);
      if (zero < 4) {
        ended = true;
        key[w++] = zero === 0 ? 0 : word & (0xffffffff >>> (32 - zero * 8));
      } else {
        key[w++] = word;
      }
    }
    return w;
  }

  private loadWord(view: DataView, at: number, remaining: number): number {
    if (remaining >= 4) return view.getUint32(at, true);
    let word = 0;
    for (let i = 0; i < remaining; i++) word |= view.getUint8(at + i) << (i * 8);
    return word >>> 0;
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
