// Interns fixed-size binary keys (label words copied out of a record) to dense
// series ids with an open-addressing table over typed arrays: no string and no
// allocation per record. Callers bring the key's hash (any 32-bit hash, used
// consistently); keys are then compared exactly. The arrays are public so a
// compiled lookup (compileCounterAdd) can probe them in place.

export const EMPTY = -1;

/** The key hash as statements on `h` (0 before the first word): one rotate-xor per word, one multiply to finish. */
export function hashSource(words: readonly string[]): string {
  return [
    ...words.map((w) => `h = ((h << 5) | (h >>> 27)) ^ ${w};`),
    'h = Math.imul(h, 0x9e3779b1); h ^= h >>> 16;',
  ].join('\n');
}

/** The hash of a key of `words` words, compiled from the same source as the record path's (counterSource). */
export function compileHashKey(words: number): (key: Int32Array) => number {
  const names = Array.from({ length: words }, (_, i) => `key[${i}]`);
  // Deliberate code generation: fixed text and word indices only.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function('key', `let h = 0;\n${hashSource(names)}\nreturn h;`) as (key: Int32Array) => number;
}

/** Copies each id's entry of `from` to its new id in `to` (`moved`, from without()); dropped ids' are left out. */
export function moveEntries<T>(from: ArrayLike<T>, to: Record<number, T>, moved: Int32Array): void {
  moved.forEach((next, id) => {
    if (next >= 0 && from[id] !== undefined) to[next] = from[id];
  });
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

  /**
   * The table without the ids in `drop` (ascending), the others renumbered in
   * order; `moved[id]` is each old id's new id, or -1.
   */
  without(drop: readonly number[]): { table: ByteKeyTable; moved: Int32Array } {
    const live = this.count - drop.length;
    let slots = 64;
    while (slots < live * 2) slots *= 2;
    const table = new ByteKeyTable(this.words, slots);
    const moved = new Int32Array(this.count).fill(EMPTY);
    let next = 0;
    for (let id = 0; id < this.count; id++) {
      if (id === drop[next]) {
        next++;
        continue;
      }
      moved[id] = table.insert(this.key(id), this.hashes[id]);
    }
    return { table, moved };
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
