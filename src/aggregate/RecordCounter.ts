// A counter keyed by label values taken straight from record fields. The hot
// path (compiled per label plan, see compileCounterAdd) finds the series of a
// record's label words and bumps a Float64Array slot; strings are decoded once
// per new series, and only at collection time.
import { readCString } from '../decode/readField';
import type { Field } from '../decode/RecordLayout';
import { ByteKeyTable } from './ByteKeyTable';
import type { AddFunction, CounterState } from './compileCounterAdd';
import { LABEL_KINDS, compileCounterAdd, counterBlock, labelWords } from './compileCounterAdd';
import type { Labels, Sample, ScalarFamily } from './MetricFamily';

export const OVERFLOW_LABEL_VALUE = '__overflow__';

export interface LabelSource {
  label: string;
  field: Field;
  /** Turns an integer field into the label value (default: decimal). */
  format?: (value: number) => string;
}

export class RecordCounter implements ScalarFamily, CounterState {
  readonly type = 'counter';
  readonly table: ByteKeyTable;
  readonly scratch: Int32Array;
  values = new Float64Array(64);
  /**
   * Adds `amount` to the series named by this record's label fields. `words`
   * views the same memory as `view`; records start 8-byte aligned.
   */
  readonly add: AddFunction;
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
      // Strings are loaded as aligned 32-bit words.
      if (field.kind === 'string' && (field.size % 4 !== 0 || field.offset % 4 !== 0)) {
        throw new Error(
          `${name}: label '${label}' reads char[${field.size}] at offset ${field.offset}; string labels need size and offset multiples of 4`,
        );
      }
    }
    const words = labels.reduce((sum, source) => sum + labelWords(source.field), 0);
    this.table = new ByteKeyTable(Math.max(words, 1));
    this.scratch = new Int32Array(Math.max(words, 1));
    this.add = compileCounterAdd(this.fields(), this);
  }

  /** Per-record statements for a loop where this counter is reachable as `counter` (see counterBlock). */
  blockSource(counter: string, label: string): string {
    return counterBlock(this.fields(), counter, label, '1');
  }

  private fields(): Field[] {
    return this.labels.map((source) => source.field);
  }

  get seriesCount(): number {
    return this.table.size;
  }

  addNew(hash: number, amount: number): void {
    if (this.table.size >= this.maxSeries) {
      this.overflowValue += amount;
      this.overflowCount++;
      return;
    }
    const id = this.table.insert(this.scratch, hash);
    if (id >= this.values.length) this.growValues();
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

  private labelsOf(id: number): Labels {
    let labels = this.labelCache[id];
    if (labels) return labels;
    const key = this.table.key(id);
    const bytes = new DataView(key.buffer, key.byteOffset, key.byteLength);
    labels = {};
    let offset = 0;
    for (const source of this.labels) {
      const { field } = source;
      const words = labelWords(field);
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
