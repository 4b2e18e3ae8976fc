// The record generator of the benchmarks: bpf/loadgen.bpf.c writes
// exec_records whose comm cycles over `loadgen_comms` values, either when
// user space runs it (BPF_PROG_TEST_RUN, the drain benchmark) or from a real
// tracepoint: bench/syscall_loop calls getppid() at a paced rate and
// loadgen_sys_enter (tp_btf/sys_enter, filtered to that process and syscall)
// writes `loadgen_batch` records per call. The second keeps producing while
// the consumer's event loop is busy, as the kernel does for a real probe.
import type { ChildProcessByStdio } from 'node:child_process';
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';

import { PACKAGE_ROOT } from '../src/native/addon';

export const LOADGEN_OBJECT = path.join(PACKAGE_ROOT, 'dist', 'bpf', 'loadgen.bpf.o');
export const SYSCALL_LOOP = path.join(PACKAGE_ROOT, 'dist', 'bench', 'syscall_loop');

/**
 * The comm of a stream's record `index`, as loadgen writes it: "loadgen-"
 * and the index modulo `comms` in base 26, least significant letter first.
 */
export function loadgenComm(index: number, comms: number): string {
  let n = index % comms;
  let letters = '';
  do {
    letters += String.fromCharCode(97 + (n % 26));
    n = Math.floor(n / 26);
  } while (n > 0);
  return `loadgen-${letters}`;
}

type LoopChild = ChildProcessByStdio<Writable, Readable, null>;

/** Spawns syscall_loop; resolves with it, its pid and getppid's syscall number once it waits for "go". */
export async function spawnLoop(
  rate: number,
  seconds: number,
): Promise<{ child: LoopChild; lines: AsyncIterator<string>; pid: number; syscall: number }> {
  const child = spawn(SYSCALL_LOOP, [rate === 0 ? 'max' : String(rate), String(seconds)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  const match = first.done ? null : /^ready (\d+) (\d+)$/.exec(first.value);
  if (!match) {
    child.kill();
    throw new Error(`syscall_loop did not get ready: ${first.done ? 'no output' : first.value}`);
  }
  return { child, lines, pid: Number(match[1]), syscall: Number(match[2]) };
}
