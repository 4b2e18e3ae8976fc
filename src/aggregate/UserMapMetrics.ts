// The families of a user probe (ebpf_exporter's format): keys decoded label by
// label from their bytes, values one u64 summed over CPUs. A histogram keeps
// one bucket per key (the key's last label), so its entries are first grouped
// by the rest of the key into one entry of bucket counts and a sum, the shape
// the map histogram family reads; series, cap and TTL are MapSeries' as for
// built-in probes.
import type { NativeBpfObject } from '../native/addon';
import type { BucketedHistogram, ByteLabel, UserMapMetricDefinition } from '../probes/ProbeDefinition';
import type { FamilySettings } from './FamilySettings';
import { MapCounterFamily, MapHistogramFamily } from './MapMetrics';
import type { EntrySource, MapEntry } from './MapReader';
import { MapReaders } from './MapReader';
import type { KeyLabeller } from './MapSeries';
import { MapSeries } from './MapSeries';
import type { Labels, MetricFamily } from './MetricFamily';

/** An unsigned little-endian integer of 1, 2, 4 or 8 bytes (above 2^53 loses precision: bucket keys never are). */
function unsignedAt(key: DataView, offset: number, size: number): number {
  switch (size) {
    case 1:
      return key.getUint8(offset);
    case 2:
      return key.getUint16(offset, true);
    case 4:
      return key.getUint32(offset, true);
    default:
      return Number(key.getBigUint64(offset, true));
  }
}

class ByteKeyLabeller implements KeyLabeller {
  readonly names: string[];
  readonly mayDrop = true;
  readonly cgroupOffset?: number;

  constructor(
    readonly keySize: number,
    private readonly byteLabels: ByteLabel[],
  ) {
    this.names = byteLabels.map((label) => label.name);
    this.cgroupOffset = byteLabels.find((label) => label.cgroup && label.size === 8)?.offset;
  }

  /** A lookup that has not found its value says `unknown...` (`unknown_cgroup_id:N`, `unknown:8:0`). */
  settled(labels: Labels): boolean {
    return this.byteLabels.every((label) => !label.lookup || !labels[label.name].startsWith('unknown'));
  }

  labels(key: DataView): Labels | undefined {
    const labels: Labels = {};
    for (const label of this.byteLabels) {
      const value = label.decode(new Uint8Array(key.buffer, key.byteOffset + label.offset, label.size));
      if (value === undefined) return undefined;
      labels[label.name] = value;
    }
    return labels;
  }
}

/**
 * A bucketed map's entries grouped by key without its bucket: words 0..n-1
 * count buckets keys[0..n-1], word n (+Inf) stays 0, word n + 1 is the sum.
 */
class BucketGroups implements EntrySource {
  private readonly index = new Map<number, number>();

  constructor(
    private readonly source: EntrySource,
    private readonly histogram: BucketedHistogram,
  ) {
    histogram.keys.forEach((key, i) => this.index.set(key, i));
  }

  entries(): MapEntry[] {
    const { offset, size, keys, sumKey } = this.histogram;
    const groups = new Map<string, MapEntry>();
    for (const entry of this.source.entries()) {
      const bucket = unsignedAt(entry.key, offset, size);
      const rest = new Uint8Array(entry.key.byteLength);
      rest.set(new Uint8Array(entry.key.buffer, entry.key.byteOffset, entry.key.byteLength));
      rest.fill(0, offset, offset + size);
      const id = Buffer.from(rest).toString('latin1');
      let group = groups.get(id);
      if (!group) {
        group = { key: new DataView(rest.buffer), totals: new Float64Array(keys.length + 2) };
        groups.set(id, group);
      }
      // Keys past the range (but the sum's) are not counted, as in ebpf_exporter: the program clamps to bucket_max.
      const word = bucket === sumKey ? keys.length + 1 : this.index.get(bucket);
      if (word !== undefined) group.totals[word] += entry.totals[0];
    }
    return [...groups.values()];
  }
}

/** A per-CPU map's values each a row of its own: the key, then the CPU's index as a u16 (or the index alone). */
class PerCpuRows implements EntrySource {
  constructor(
    private readonly object: NativeBpfObject,
    private readonly map: string,
    private readonly replaceKey: boolean,
  ) {}

  entries(): MapEntry[] {
    const { count, keys, values, valueStride, cpus } = this.object.entries(this.map);
    const keySize = keys.byteLength / Math.max(count, 1);
    const kept = this.replaceKey ? 0 : keySize;
    const rows: MapEntry[] = [];
    for (let i = 0; i < count; i++) {
      for (let cpu = 0; cpu < cpus; cpu++) {
        const key = new Uint8Array(kept + 2);
        key.set(keys.subarray(i * keySize, i * keySize + kept));
        new DataView(key.buffer).setUint16(kept, cpu, true);
        const at = values.byteOffset + (i * cpus + cpu) * valueStride;
        const value = new DataView(values.buffer, at, 8).getBigUint64(0, true);
        rows.push({ key: new DataView(key.buffer), totals: Float64Array.of(Number(value)) });
      }
    }
    return rows;
  }
}

/** The families of a user probe's metrics. */
export function userMapFamilies(
  object: NativeBpfObject,
  definitions: readonly UserMapMetricDefinition[],
  settings: FamilySettings,
): MetricFamily[] {
  const readers = new MapReaders(object);
  return definitions.map((definition) => {
    const reader = definition.perCpuRows
      ? new PerCpuRows(object, definition.map, definition.perCpuRows.replaceKey)
      : readers.of(definition.map, 8);
    const series = new MapSeries(new ByteKeyLabeller(definition.keySize, definition.labels), settings);
    const { histogram } = definition;
    if (!histogram) return new MapCounterFamily(definition.name, definition.help, reader, series, 0);
    const n = histogram.keys.length;
    return new MapHistogramFamily(definition.name, definition.help, new BucketGroups(reader, histogram), series, {
      firstSlot: 0,
      slots: n + 1,
      sumWord: n + 1,
      scale: histogram.sumScale,
      bounds: histogram.bounds,
      lastSlotOfBucket: histogram.keys.map((_, i) => i),
    });
  });
}
