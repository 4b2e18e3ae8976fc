// dev_t -> disk name through a sysfs-shaped directory: no kernel needed.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import t from 'tap';

import { BlockDeviceNames, devnameOf, kernelDev, majorMinor } from '../../src/probes/blockDevices';

function fakeSysfs(t: { teardown(fn: () => void): void }): {
  dir: string;
  add(majMin: string, devname: string): void;
  remove(majMin: string): void;
} {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kernscope-sysdev-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    add(majMin, devname) {
      mkdirSync(path.join(dir, majMin), { recursive: true });
      writeFileSync(path.join(dir, majMin, 'uevent'), `MAJOR=x\nMINOR=y\nDEVNAME=${devname}\nDEVTYPE=disk\n`);
    },
    remove(majMin) {
      rmSync(path.join(dir, majMin), { recursive: true });
    },
  };
}

void t.test('kernel dev_t encoding', (t) => {
  t.equal(kernelDev(7, 3), (7 << 20) | 3);
  t.equal(majorMinor(kernelDev(259, 1048575)), '259:1048575');
  t.equal(majorMinor(kernelDev(4095, 0)), '4095:0', 'the top major bit does not go negative');
  t.end();
});

void t.test('DEVNAME from uevent text', (t) => {
  t.equal(devnameOf('MAJOR=253\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n'), 'vda');
  t.equal(devnameOf('MAJOR=253\nMINOR=0\n'), undefined);
  t.equal(devnameOf('DEVNAME=\n'), undefined);
  t.end();
});

void t.test('names: cached, late devices resolve, gone devices keep their name', (t) => {
  const sysfs = fakeSysfs(t);
  let now = 0;
  const names = new BlockDeviceNames(sysfs.dir, () => now);
  sysfs.add('253:0', 'vda');

  t.equal(names.name(kernelDev(253, 0)), 'vda');
  t.equal(names.name(kernelDev(7, 0)), '7:0', 'unknown: MAJ:MIN');
  sysfs.add('7:0', 'loop0');
  t.equal(names.name(kernelDev(7, 0)), 'loop0', 'a device created later resolves (failures are not cached)');

  sysfs.remove('253:0');
  t.equal(names.name(kernelDev(253, 0)), 'vda', 'cached');
  now += 60_000;
  t.equal(names.name(kernelDev(253, 0)), 'vda', 'gone after the refresh interval: last name kept');

  t.equal(names.name(kernelDev(7, 0)), 'loop0', 're-read, unchanged');
  sysfs.add('7:0', 'loop9');
  t.equal(names.name(kernelDev(7, 0)), 'loop0', 'within the refresh interval: cached');
  now += 60_000;
  t.equal(names.name(kernelDev(7, 0)), 'loop9', 'a reused number is re-read after the interval');
  t.end();
});
