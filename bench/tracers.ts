// Tracers for the workload-overhead benchmarks (bench/overhead.ts,
// bench/storms.ts): kernscope's agent and established tools started as child
// processes, awaited until attached, stopped the way a user would and harder
// if they linger; and the interleaved trial loop that measures a workload
// under each in turn.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawn } from 'node:child_process';
import path from 'node:path';

import { PACKAGE_ROOT } from '../src/native/addon';

const CLI = path.join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'main.js');

export interface Tracer {
  name: string;
  /** Starts tracing; resolves once it is attached. Returns how to stop it. */
  start(): Promise<() => Promise<void>>;
}

export const NOTHING: Tracer = { name: 'nothing attached', start: () => Promise.resolve(() => Promise.resolve()) };

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
      return stop;
    },
  };
}

/** kernscope's agent running `probes` (undefined: its default set), listening on a free loopback port. */
export function agent(name: string, probes: string | undefined, ...args: string[]): Tracer {
  const selection = probes === undefined ? [] : ['--probes', probes];
  const argv = [CLI, 'run', ...selection, '--listen', '127.0.0.1:0', ...args];
  return command(name, process.execPath, argv, /kernscope running/);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
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
      const stop = await tracer.start();
      try {
        results.get(tracer.name)!.push(await measure());
      } finally {
        await stop();
      }
    }
  }
  return results;
}
