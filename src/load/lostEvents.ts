// What a loaded probe object lost, from the kernel's own counts: the agent's
// self metrics and the trace stream both report it.
import type { NativeBpfObject } from '../native/addon';

const ZERO_KEY = new Uint8Array(4);

/**
 * Events a loaded object lost: its own count (failed ring reservations, full
 * in-kernel tables; per CPU, summed) plus the runs the kernel skipped
 * because one of its programs was already running on that CPU. A user
 * probe's object has no `drops` count of its own: only the skipped runs.
 */
export function lostEventsOf(object: NativeBpfObject): number {
  let sum = 0;
  for (const stats of object.programStats()) sum += stats.recursionMisses;
  if (!object.maps().some((map) => map.name === 'drops')) return sum;
  const value = object.lookup('drops', ZERO_KEY);
  if (!value) return sum;
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  for (let offset = 0; offset + 8 <= value.byteLength; offset += 8) sum += Number(view.getBigUint64(offset, true));
  return sum;
}
