// Interns fixed-size binary keys (label bytes copied out of a record) to dense
// series ids with an open-addressing table over typed arrays: no string and no
// allocation per record. Keys are compared exactly; the hash only picks a slot.

const EMPTY = -1;

export class ByteKeyTable {
  private slots: Int32Array;
  private keys: Uint32Array;
  private count = 0;

  /** @param words key length in 32-bit words */
  constructor(
    readonly words: number,
    initialSlots = 64,
  ) {
    this.slots = new Int32Array(initialSlots).fill(EMPTY);
    this.keys = new Uint32Array((initialSlots / 2) * words);
  }

  get size(): number {
    return this.count;
  }

  /** The id of `key`, or -1 when it has not been interned. */
  find(key: Uint32Array): number {
    const mask = this.slots.length - 1;
    for (let slot = this.hash(key) & mask; ; slot = (slot + 1) & mask) {
      const id = this.slots[slot];
      if (id === EMPTY || this.matches(id, key)) return id;
    }
  }

  /** Interns `key` (which must not be present yet) and returns its new id. */
  insert(key: Uint32Array): number {
    if ((this.count + 1) * 2 > this.slots.length) this.grow();
    const id = this.count++;
    this.keys.set(key.subarray(0, this.words), id * this.words);
    this.place(id);
    return id;
  }

  /** The stored key of `id` as 32-bit words. */
  key(id: number): Uint32Array {
    return this.keys.subarray(id * this.words, (id + 1) * this.words);
  }

  private hash(key: Uint32Array | number): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < this.words; i++) {
      const word = typeof key === 'number' ? this.keys[key * this.words + i] : key[i];
      h = Math.imul(h ^ word, 0x01000193);
      h ^= h >>> 15;
    }
    return h >>> 0;
  }

  private matches(id: number, key: Uint32Array): boolean {
    const base = id * this.words;
    for (let i = 0; i < this.words; i++) if (this.keys[base + i] !== key[i]) return false;
    return true;
  }

  private place(id: number): void {
    const mask = this.slots.length - 1;
    let slot = this.hash(id) & mask;
    while (this.slots[slot] !== EMPTY) slot = (slot + 1) & mask;
    this.slots[slot] = id;
  }

  private grow(): void {
    this.slots = new Int32Array(this.slots.length * 2).fill(EMPTY);
    const keys = new Uint32Array((this.slots.length / 2) * this.words);
    keys.set(this.keys.subarray(0, this.count * this.words));
    this.keys = keys;
    for (let id = 0; id < this.count; id++) this.place(id);
  }
}
