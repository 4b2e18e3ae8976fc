// Block device names for the kernel's dev_t numbers (major << 20 | minor, the
// encoding block tracepoints and struct gendisk use), read from sysfs.
import { readFileSync } from 'node:fs';
import path from 'node:path';

const MINOR_BITS = 20;
const MINOR_MASK = (1 << MINOR_BITS) - 1;
/** Names are re-read after this long: dynamic minors (259:N, nvme) can be reused by another disk. */
const REFRESH_MS = 30_000;

interface Known {
  name: string;
  readAt: number;
}

/** `MAJ:MIN` of a kernel dev_t. */
export function majorMinor(dev: number): string {
  return `${dev >>> MINOR_BITS}:${dev & MINOR_MASK}`;
}

/** The kernel dev_t of `major:minor`. */
export function kernelDev(major: number, minor: number): number {
  return ((major << MINOR_BITS) | minor) >>> 0;
}

/** DEVNAME from a uevent file's text, if present. */
export function devnameOf(uevent: string): string | undefined {
  const line = uevent.split('\n').find((l) => l.startsWith('DEVNAME='));
  const name = line?.slice('DEVNAME='.length).trim();
  return name ? name : undefined;
}

/**
 * Maps dev_t numbers to disk names (`vda`, `loop0`) through
 * /sys/dev/block/MAJ:MIN/uevent. Names are cached; a device created after
 * start resolves on first sight, and a device that has gone keeps its last
 * name (its counters still exist). Unknown numbers read as `MAJ:MIN` and are
 * retried on the next call.
 */
export class BlockDeviceNames {
  private readonly known = new Map<number, Known>();

  constructor(
    private readonly sysDevBlock = '/sys/dev/block',
    private readonly now: () => number = Date.now,
  ) {}

  name(dev: number): string {
    const known = this.known.get(dev);
    const now = this.now();
    if (known && now - known.readAt < REFRESH_MS) return known.name;
    const name = this.read(dev);
    if (name) {
      this.known.set(dev, { name, readAt: now });
      return name;
    }
    if (known) {
      known.readAt = now; // gone: keep the last name, look again later
      return known.name;
    }
    return majorMinor(dev);
  }

  private read(dev: number): string | undefined {
    try {
      return devnameOf(readFileSync(path.join(this.sysDevBlock, majorMinor(dev), 'uevent'), 'utf8'));
    } catch {
      return undefined;
    }
  }
}

const names = new BlockDeviceNames();

/** Label format for a dev_t map key field: the disk name, or `MAJ:MIN` when sysfs has none. */
export function blockDeviceName(dev: number): string {
  return names.name(dev);
}
