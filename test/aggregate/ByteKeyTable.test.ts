import t from 'tap';

import { ByteKeyTable, compileHashKey } from '../../src/aggregate/ByteKeyTable';

const key = (...words: number[]): Int32Array => Int32Array.from(words);
const hashKey = (k: Int32Array): number => compileHashKey(k.length)(k);

void t.test('ids are dense, stable and survive growth', (t) => {
  const table = new ByteKeyTable(3, 4); // tiny: grows many times
  const keys = Array.from({ length: 2000 }, (_, i) => key(i, i * 2654435761, 0xffffffff - i));
  const ids: number[] = [];
  let foundBeforeInsert = 0;
  for (const k of keys) {
    if (table.find(k, hashKey(k)) !== -1) foundBeforeInsert++;
    ids.push(table.insert(k, hashKey(k)));
  }
  t.equal(foundBeforeInsert, 0, 'find is -1 before insert');
  t.same(
    ids,
    keys.map((_, i) => i),
    'insert returns 0, 1, 2, ...',
  );
  t.equal(table.size, keys.length);
  t.ok(
    keys.every((k, i) => table.find(k, hashKey(k)) === i),
    'find returns the id given at insert, after every growth',
  );
  t.ok(
    keys.every((k, i) => table.key(i).every((w, j) => w === k[j])),
    'key(id) returns the stored words',
  );
  t.equal(table.find(key(1, 2, 3), hashKey(key(1, 2, 3))), -1, 'absent key');
  t.end();
});

void t.test('keys equal in all but one word are distinct', (t) => {
  const table = new ByteKeyTable(4);
  const keys = [key(1, 2, 3, 4), key(1, 2, 3, 5), key(0, 2, 3, 4)];
  t.same(
    keys.map((k) => table.insert(k, hashKey(k))),
    [0, 1, 2],
  );
  t.same(
    keys.map((k) => table.find(k, hashKey(k))),
    [0, 1, 2],
  );
  t.end();
});

void t.test('keys whose hashes collide are still told apart, across growth', (t) => {
  const table = new ByteKeyTable(2, 4);
  const keys = Array.from({ length: 100 }, (_, i) => key(i, ~i >>> 0));
  const SAME = -123456789; // every key gets the same (negative, int32) hash
  t.same(
    keys.map((k) => table.insert(k, SAME)),
    keys.map((_, i) => i),
  );
  t.ok(
    keys.every((k, i) => table.find(k, SAME) === i),
    'exact compare decides, not the hash',
  );
  t.equal(table.find(key(1000, 0), SAME), -1);
  t.end();
});

void t.test('insert copies only `words` words of a longer scratch key', (t) => {
  const table = new ByteKeyTable(2);
  const scratch = key(7, 8, 99);
  const id = table.insert(scratch, hashKey(scratch.subarray(0, 2)));
  scratch[0] = 0;
  t.same([...table.key(id)], [7, 8], 'stored copy, not a reference');
  t.equal(table.find(key(7, 8), hashKey(key(7, 8))), id);
  t.end();
});

void t.test('without(): the other ids renumbered in order, each still found by its key', (t) => {
  const table = new ByteKeyTable(2);
  const keys = Array.from({ length: 100 }, (_, i) => key(i, -i));
  for (const k of keys) table.insert(k, hashKey(k));
  const drop = [0, 3, 4, 50, 99];
  const { table: kept, moved } = table.without(drop);
  t.equal(kept.size, 95);
  t.same(
    drop.map((id) => moved[id]),
    [-1, -1, -1, -1, -1],
    'dropped ids map to -1',
  );
  const live = keys.map((_, id) => id).filter((id) => !drop.includes(id));
  t.same(
    live.map((id) => moved[id]),
    live.map((_, i) => i),
    'the rest keep their order, densely',
  );
  t.ok(
    live.every((id) => kept.find(keys[id], hashKey(keys[id])) === moved[id]),
    'each found under its new id',
  );
  t.ok(
    drop.every((id) => kept.find(keys[id], hashKey(keys[id])) === -1),
    'dropped keys are gone',
  );
  t.end();
});
