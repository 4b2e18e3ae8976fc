// One pass over a BPF map per collection: each key's bytes and its value's
// u64 words summed over CPUs (per-CPU maps hold one value per possible CPU;
// the addon says how many and how far apart: native/map_io.cc).
import type { NativeBpfObject } from '../native/addon';

/** One map entry as read: the key's bytes, the value's u64 words summed over CPUs. */
export interface MapEntry {
  key: DataView;
  totals: Float64Array;
}

/** What a map family reads its entries from. */
export interface EntrySource {
  entries(): MapEntry[];
}

/** Reads a map at most once per event-loop turn, however many families use it. */
export class MapReader implements EntrySource {
  private cached: MapEntry[] | undefined;

  constructor(
    private readonly object: NativeBpfObject,
    private readonly map: string,
    private readonly valueSize: number,
  ) {}

  entries(): MapEntry[] {
    if (this.cached) return this.cached;
    const { count, keys, values, valueStride: slot, cpus } = this.object.entries(this.map);
    const keySize = keys.byteLength / Math.max(count, 1);
    const words = this.valueSize / 8;
    const valueView = new DataView(values.buffer, values.byteOffset, values.byteLength);
    const entries: MapEntry[] = [];
    for (let i = 0; i < count; i++) {
      const totals = new Float64Array(words);
      const base = i * slot * cpus;
      for (let cpu = 0; cpu < cpus; cpu++) {
        for (let w = 0; w < words; w++) totals[w] += Number(valueView.getBigUint64(base + cpu * slot + w * 8, true));
      }
      entries.push({ key: new DataView(keys.buffer, keys.byteOffset + i * keySize, keySize), totals });
    }
    this.cached = entries;
    setImmediate(() => (this.cached = undefined));
    return entries;
  }
}

/** The readers of one object's maps, one per map however many families read it. */
export class MapReaders {
  private readonly readers = new Map<string, MapReader>();

  constructor(private readonly object: NativeBpfObject) {}

  of(map: string, valueSize: number): MapReader {
    let reader = this.readers.get(map);
    if (!reader) {
      reader = new MapReader(this.object, map, valueSize);
      this.readers.set(map, reader);
    }
    return reader;
  }
}
