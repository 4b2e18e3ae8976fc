// Interns fixed-size binary keys (label words copied out of a record) to dense
// series ids with an open-addressing table over typed arrays: no string and no
// allocation per record. Callers bring the key's hash (any 32-bit hash, used
// consistently); keys are then compared exactly. The arrays are public so a
// compiled lookup (compileCounterAdd) can probe them in place.

export const EMPTY = -1;

/** A good default hash of a key: rotate-xor per word, one multiply to finish. */
export function hashKey(key: Int32Array): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = ((h << 5) | (h >>> 27)) ^ key[i];
  h = Math.imul(h, 0x9e3779b1);
  return h ^ (h >>> 16);
}

export class ByteKeyTable {
  /** Slot -> id, or EMPTY. Only this class writes these arrays. */
  slots: Int32Array;
  /** id * words .. : the key words of each id. */
  keys: Int32Array;
  /** id -> the hash the key was inserted with. */
  hashes: Int32Array;
  private count = 0;

  /** @param words key length in 32-bit words */
  constructor(
    readonly words: number,
    initialSlots = 64,
  ) {
    this.slots = new Int32Array(initialSlots).fill(EMPTY);
    this.keys = new Int32Array((initialSlots / 2) * words);
    this.hashes = new Int32Array(initialSlots / 2);
  }

  get size(): number {
    return this.count;
  }

  /** The id of `key` (whose hash is `hash`), or -1 when it has not been interned. */
  find(key: Int32Array, hash: number): number {
    const mask = this.slots.length - 1;
    const words = this.words;
    const keys = this.keys;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const id = this.slots[slot];
      if (id === EMPTY) return EMPTY;
      if (this.hashes[id] !== hash) continue;
      const base = id * words;
      let i = 0;
      while (i < words && keys[base + i] === key[i]) i++;
      if (i === words) return id;
    }
  }

  /** Interns `key` (which must not be present yet) and returns its new id. */
  insert(key: Int32Array, hash: number): number {
    if ((this.count + 1) * 2 > this.slots.length) this.grow();
    const id = this.count++;
    this.keys.set(key.subarray(0, this.words), id * this.words);
    this.hashes[id] = hash;
    this.place(id);
    return id;
  }

  /** The stored key of `id` as 32-bit words. */
  key(id: number): Int32Array {
    return this.keys.subarray(id * this.words, (id + 1) * this.words);
  }

  private place(id: number): void {
    const mask = this.slots.length - 1;
    let slot = this.hashes[id] & mask;
    while (this.slots[slot] !== EMPTY) slot = (slot + 1) & mask;
    this.slots[slot] = id;
  }

  private grow(): void {
    const capacity = this.slots.length; // ids double along with the slots
    this.slots = new Int32Array(capacity * 2).fill(EMPTY);
    const keys = new Int32Array(capacity * this.words);
    keys.set(this.keys.subarray(0, this.count * this.words));
    this.keys = keys;
    const hashes = new Int32Array(capacity);
    hashes.set(this.hashes.subarray(0, this.count));
    this.hashes = hashes;
    for (let id = 0; id < this.count; id++) this.place(id);
  }
}
