// The machine and versions every benchmark reports with its figures: runs on
// a shared 2-vCPU VM are only comparable with the load average beside them.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

import { addon } from '../src/native/addon';

export const loadAverage = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

export function machine(): Record<string, string | number> {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  let clang = 'not found';
  try {
    clang = execFileSync(process.env.CLANG ?? 'clang', ['--version'], { encoding: 'utf8' }).split('\n')[0];
  } catch {
    // Only informational: the objects may have been built elsewhere.
  }
  return {
    cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    kernel: os.release(),
    libbpf: addon.libbpfVersion(),
    node: process.version,
    clang,
    load: loadAverage(),
  };
}
