// How many log2 slots a probe's in-kernel histogram has: the length of its
// value struct's slots array in the object's BTF, the one source of record
// and map layouts (tcp's has 33, for its 2^32 ns bound; the others 32).
// Read before anything loads, to check configured buckets against it.
import type { MapHistogramDefinition, ProbeDefinition } from '../probes/ProbeDefinition';
import { objectPath } from '../probes/objectPath';
import { addon } from '../native/addon';
import { RecordLayout } from './RecordLayout';

const cache = new Map<string, number>();

export function histogramSlots(definition: ProbeDefinition, histogram: MapHistogramDefinition): number {
  const file = objectPath(definition);
  const key = `${file}\u0000${histogram.value}\u0000${histogram.slots}`;
  let slots = cache.get(key);
  if (slots === undefined) {
    const object = new addon.BpfObject(file, definition.name);
    try {
      slots = RecordLayout.fromObject(object, histogram.value).field(histogram.slots).size / 8;
    } finally {
      object.close();
    }
    cache.set(key, slots);
  }
  return slots;
}
