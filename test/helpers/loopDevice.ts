// Throw-away file-backed loop devices for block I/O workloads.
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { run } from './process';
import type { HasTeardown } from './teardown';

export interface LoopDevice {
  /** `/dev/loop3` */
  path: string;
  /** `loop3`: the disk name the kernel (and sysfs DEVNAME) uses. */
  name: string;
  major: number;
  minor: number;
}

async function ensureLoopDriver(): Promise<void> {
  if (existsSync('/dev/loop-control')) return;
  const probe = await run('modprobe', ['loop']);
  if (probe.code !== 0 || !existsSync('/dev/loop-control')) {
    throw new Error(`no loop device support (/dev/loop-control missing; modprobe loop: ${probe.stderr.trim()})`);
  }
}

/**
 * Attaches a sparse file of `sizeBytes` in a fresh temporary directory to a
 * free loop device (no partition scan, so nothing reads it on its own).
 * Detached, and the file removed, at teardown.
 */
export async function createLoopDevice(t: HasTeardown, sizeBytes = 16 << 20): Promise<LoopDevice> {
  await ensureLoopDriver();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kernscope-loop-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'disk.img');
  writeFileSync(file, '');
  truncateSync(file, sizeBytes);
  const attached = await run('losetup', ['--find', '--show', file]);
  if (attached.code !== 0) throw new Error(`losetup failed: ${attached.stderr.trim()}`);
  const device = attached.stdout.trim();
  t.teardown(async () => {
    const detached = await run('losetup', ['--detach', device]);
    if (detached.code !== 0) throw new Error(`losetup --detach ${device}: ${detached.stderr.trim()}`);
  });
  const name = path.basename(device);
  const [major = NaN, minor = NaN] = readFileSync(`/sys/block/${name}/dev`, 'utf8').trim().split(':').map(Number);
  return { path: device, name, major, minor };
}
