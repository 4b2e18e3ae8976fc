// Interns fixed-size binary keys (label bytes copied out of a record) to dense
// series ids with an open-addressing table over typed arrays: no string and no
// allocation per record. Callers hash while they copy the key (hashWord), so
// each key word is touched once; keys are then compared exactly.

const EMPTY = -1;

/** FNV-1a seed, as int32 so the hash stays a small integer in V8 (never a heap number). */
export const HASH_SEED = 0x811c9dc5 | 0;

/** Folds one 32-bit key word into a running hash. */
export function hashWord(hash: number, word: number): number {
  const h = Math.imul(hash ^ word, 0x01000193);
  return h ^ (h >>> 15);
}

export function hashKey(key: Uint32Array): number {
  let h = HASH_SEED;
  for (let i = 0; i < key.length; i++) h = hashWord(h, key[i]);
  return h;
}

export class ByteKeyTable {
  private slots: Int32Array;
  private keys: Uint32Array;
  private hashes: Int32Array;
  private count = 0;

  /** @param words key length in 32-bit words */
  constructor(
    readonly words: number,
    initialSlots = 64,
  ) {
    this.slots = new Int32Array(initialSlots).fill(EMPTY);
    this.keys = new Uint32Array((initialSlots / 2) * words);
    this.hashes = new Int32Array(initialSlots / 2);
  }

  get size(): number {
    return this.count;
  }

  /** The id of `key` (whose hash is `hash`), or -1 when it has not been interned. */
  find(key: Uint32Array, hash: number): number {
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
  insert(key: Uint32Array, hash: number): number {
    if ((this.count + 1) * 2 > this.slots.length) this.grow();
    const id = this.count++;
    this.keys.set(key.subarray(0, this.words), id * this.words);
    this.hashes[id] = hash;
    this.place(id);
    return id;
  }

  /** The stored key of `id` as 32-bit words. */
  key(id: number): Uint32Array {
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
    const keys = new Uint32Array(capacity * this.words);
    keys.set(this.keys.subarray(0, this.count * this.words));
    this.keys = keys;
    const hashes = new Int32Array(capacity);
    hashes.set(this.hashes.subarray(0, this.count));
    this.hashes = hashes;
    for (let id = 0; id < this.count; id++) this.place(id);
  }
}
