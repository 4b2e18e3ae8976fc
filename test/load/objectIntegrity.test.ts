// BPF objects are checked against the sums the build wrote beside them: a
// changed object, or objects without their sums, are refused with one line
// naming the fix, before anything is loaded.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import t from 'tap';

import { ProbeLoader } from '../../src/load/ProbeLoader';
import { BPF_OBJECT_DIR } from '../../src/probes/objectPath';
import { SUMS_FILE } from '../../src/load/objectIntegrity';
import { addon } from '../../src/native/addon';
import { execProbe } from '../../src/probes/exec';
import type { HasTeardown } from '../helpers/teardown';

const SETTINGS = { ringBytes: 4096, wakeupBytes: 4096 };

/** A copy of the built exec object and the sums, in a fresh directory. */
function copyOfBuild(t: HasTeardown, withSums = true): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kernscope-objects-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(path.join(BPF_OBJECT_DIR, execProbe.object), path.join(dir, execProbe.object));
  if (withSums) copyFileSync(path.join(BPF_OBJECT_DIR, SUMS_FILE), path.join(dir, SUMS_FILE));
  return dir;
}

void t.test('the built object loads; the same object changed by one byte is refused', (t) => {
  const dir = copyOfBuild(t);
  const loader = new ProbeLoader(addon.kernelFeatures(), dir);
  const loaded = loader.load(execProbe, SETTINGS);
  t.ok(loaded.object.programStats().length > 0, 'the untouched copy loads');
  loaded.object.close();

  const file = path.join(dir, execProbe.object);
  const bytes = readFileSync(file);
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(file, bytes);
  t.throws(
    () => loader.load(execProbe, SETTINGS),
    new RegExp(
      `^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} does not match its build-time sha256 \\(SHA256SUMS\\): rebuild with make bpf, or reinstall$`,
    ),
  );
  t.end();
});

void t.test('objects without their sums are refused', (t) => {
  const dir = copyOfBuild(t, false);
  t.throws(
    () => new ProbeLoader(addon.kernelFeatures(), dir).load(execProbe, SETTINGS),
    /SHA256SUMS is missing: rebuild the BPF objects with make bpf$/,
  );
  t.end();
});
