// Tracers for the workload-overhead benchmarks (bench/overhead.ts,
// bench/storms.ts, bench/services.ts): kernscope's agent and established
// tools started as child processes, awaited until attached, stopped the way a
// user would and harder if they linger, and no-op programs for the floor; and
// the trial loops that measure a workload under each in turn, interleaved or
// bracketed by nothing-attached measurements.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

import { PACKAGE_ROOT, addon } from '../src/native/addon';

const CLI = path.join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'main.js');
const NOOP_OBJECT = path.join(PACKAGE_ROOT, 'dist', 'bpf', 'noop.bpf.o');

/** A tracer while it runs. */
export interface Running {
  stop(): Promise<void>;
  /** The process holding its programs: its own, or this one (then its CPU time is not the tracer's alone). */
  pid: number;
}

export interface Tracer {
  name: string;
  /** Starts tracing; resolves once it is attached. */
  start(): Promise<Running>;
}

export const NOTHING: Tracer = {
  name: 'nothing attached',
  start: () => Promise.resolve({ stop: () => Promise.resolve(), pid: process.pid }),
};

function waitForOutput(child: ChildProcessWithoutNullStreams, pattern: RegExp, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not attach in 30 s: ${output}`)), 30000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (pattern.test(output)) {
        clearTimeout(timer);
        // Keep reading (a tool blocked on a full pipe would stop draining its events), but keep nothing.
        child.stdout.off('data', onData);
        child.stderr.off('data', onData);
        child.stdout.resume();
        child.stderr.resume();
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before attaching: ${output}`)));
  });
}

/**
 * Stops a tracer the way a user would (SIGINT: it detaches and prints its
 * summary), then harder if it does not exit: bpftrace now and then misses a
 * SIGINT and would otherwise stay attached and stall the run.
 */
function stopper(child: ChildProcessWithoutNullStreams): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGKILL'];
      const next = (): void => {
        child.kill(signals.shift());
        if (signals.length > 0) timer = setTimeout(next, 5000);
      };
      let timer = setTimeout(next, 0);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
}

/** A tracer run as a command that says when it is attached. */
export function command(name: string, file: string, args: string[], attached: RegExp): Tracer {
  return {
    name,
    async start() {
      // Line-buffered stdout: the attach message must arrive while the tool runs.
      const child = spawn('stdbuf', ['-oL', file, ...args]);
      const stop = stopper(child);
      try {
        await waitForOutput(child, attached, name);
      } catch (error) {
        await stop(); // never leave a tracer attached behind a failed run
        throw error;
      }
      return { stop, pid: child.pid! };
    },
  };
}

/** kernscope's agent running `probes` (undefined: its default set), listening on a free loopback port. */
export function agent(name: string, probes: string | undefined, ...args: string[]): Tracer {
  const selection = probes === undefined ? [] : ['--probes', probes];
  const argv = [CLI, 'run', ...selection, '--listen', '127.0.0.1:0', ...args];
  return command(name, process.execPath, argv, /kernscope running/);
}

/**
 * No-op programs on the syscall tracepoints (bpf/noop.bpf.c), loaded in this
 * process: the floor of any per-syscall probe.
 */
export function noopFloor(name: string, programs: string[]): Tracer {
  return {
    name,
    start() {
      const object = new addon.BpfObject(NOOP_OBJECT, 'noop');
      for (const program of programs) object.setAutoload(program, true);
      object.load();
      const links = programs.map((program) => object.attach(program, 'tp_btf'));
      return Promise.resolve({
        stop() {
          for (const link of links) link.destroy();
          object.close();
          return Promise.resolve();
        },
        pid: process.pid,
      });
    },
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** `fn` while `tracer` is attached; it is detached however `fn` ends. */
export async function whileAttached<T>(tracer: Tracer, fn: (running: Running) => Promise<T>): Promise<T> {
  const running = await tracer.start();
  try {
    return await fn(running);
  } finally {
    await running.stop();
  }
}

/**
 * `measure` under each tracer in turn, `trials` rounds, interleaved so drift
 * on a shared machine hits every tracer alike; every value, by tracer name.
 */
export async function measureUnderEach(
  tracers: Tracer[],
  trials: number,
  measure: () => Promise<number>,
): Promise<Map<string, number[]>> {
  const results = new Map<string, number[]>(tracers.map((t) => [t.name, []]));
  for (let trial = 0; trial < trials; trial++) {
    for (const tracer of tracers) {
      process.stderr.write(`trial ${trial + 1}/${trials}: ${tracer.name}\n`);
      results.get(tracer.name)!.push(await whileAttached(tracer, () => measure()));
    }
  }
  return results;
}

/**
 * Run time so far of the BPF programs process `pid` holds, ns: the sum of
 * `run_time_ns` over its program fds (/proc/PID/fdinfo), which the kernel
 * counts only while kernel.bpf_stats_enabled is 1.
 */
export function bpfRunTimeNs(pid: number): number {
  let total = 0;
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const runTime = /^run_time_ns:\s+(\d+)$/m.exec(info);
    if (runTime && /^prog_id:/m.test(info)) total += Number(runTime[1]);
  }
  return total;
}

/** user + system CPU seconds of a process so far, all its threads (/proc/PID/stat, at 100 ticks a second). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // Fields 14 and 15 of the file (utime, stime), counted after the command name's closing parenthesis.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** One measurement under a tracer and the nothing-attached ones around it. */
export interface Bracketed {
  value: number;
  /** The mean of the nothing-attached measurements just before and just after. */
  baseline: number;
  /** The tracer's own CPU time during the measurement, when it runs in a process of its own. */
  cpuSeconds?: number;
}

/**
 * `measure` under each tracer in turn, `rounds` times, with a nothing-attached
 * measurement between every two tracers: each figure is compared with the
 * baseline around it, seconds away, not with one a whole round away. A
 * drifting shared machine moves both sides of each comparison alike.
 */
export async function measureBracketed(
  tracers: Tracer[],
  rounds: number,
  measure: () => Promise<number>,
): Promise<Map<string, Bracketed[]>> {
  const results = new Map<string, Bracketed[]>(tracers.map((t) => [t.name, []]));
  for (let round = 0; round < rounds; round++) {
    let before = await measure();
    for (const tracer of tracers) {
      process.stderr.write(`round ${round + 1}/${rounds}: ${tracer.name}\n`);
      const { value, cpu } = await whileAttached(tracer, async (running) => {
        const own = running.pid !== process.pid;
        const cpuBefore = own ? cpuSeconds(running.pid) : 0;
        const measured = await measure();
        return { value: measured, cpu: own ? cpuSeconds(running.pid) - cpuBefore : undefined };
      });
      const after = await measure();
      results.get(tracer.name)!.push({ value, baseline: (before + after) / 2, cpuSeconds: cpu });
      before = after;
    }
  }
  return results;
}
