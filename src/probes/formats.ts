// Label formats for kernel numbers.
import os from 'node:os';

import { SYSCALL_NAMES } from './syscallNames';

const syscalls = SYSCALL_NAMES[process.arch] ?? [];

/** `openat` for this architecture's syscall number, `syscall_<n>` when unknown. */
export function syscallName(id: number): string {
  return syscalls[id] || `syscall_${id}`;
}

const errnoNames = new Map(Object.entries(os.constants.errno).map(([name, value]) => [value, name]));

/** `ENOENT` for 2, the number as text when the name is unknown. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? String(errno);
}

/** Nanoseconds as milliseconds to the microsecond: a traced event's latency, in the table and in JSON. */
export function latencyMs(ns: number): number {
  return Math.round(ns / 1e3) / 1e3;
}
