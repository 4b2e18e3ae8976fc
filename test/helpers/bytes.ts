// Little-endian byte builders for constants, keys and hand-made records.

export function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}

export function u64(value: bigint | number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(value), true);
  return bytes;
}

/** Sum of the little-endian u64 slots of a per-CPU lookup value. */
export function sumU64(value: Uint8Array): number {
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  let sum = 0;
  for (let offset = 0; offset + 8 <= value.byteLength; offset += 8) sum += Number(view.getBigUint64(offset, true));
  return sum;
}

/** Deterministic pseudo-random bytes (xorshift32), so a failure can be replayed. */
export function pseudoRandomBytes(length: number, seed = 0x2545f491): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    bytes[i] = x & 0xff;
  }
  return bytes;
}
