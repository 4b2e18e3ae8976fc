// A workload process that starts, then waits for a go line on stdin before it
// does its known work, so a probe can be loaded with its pid as the filter
// first. Prints "done" when the work is over.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawn } from 'node:child_process';

import { childEnv } from './process';
import type { HasTeardown } from './teardown';

export class GatedWorkload {
  private output = '';

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
  }

  /** Python source for the work; runs after the go line. */
  static start(t: HasTeardown, work: string): GatedWorkload {
    const source = `import os, sys\nprint("started", flush=True)\nsys.stdin.readline()\n${work}\nprint("done", flush=True)\nsys.stdin.readline()\n`;
    const child = spawn('python3', ['-c', source], { env: childEnv() });
    const workload = new GatedWorkload(child);
    t.teardown(() => void child.kill('SIGKILL'));
    return workload;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /**
   * Resolves once the interpreter has started (its start-up makes syscalls of
   * its own, getppid among them: a probe filtered to this pid and attached
   * before then would count them).
   */
  async started(timeoutMs = 30000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.output.includes('started')) {
      if (this.child.exitCode !== null) throw new Error(`workload exited early: ${this.output}`);
      if (Date.now() > deadline) throw new Error(`workload did not start in ${timeoutMs} ms: ${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Lets the work run and resolves once it printed "done". */
  async run(timeoutMs = 30000): Promise<void> {
    this.child.stdin.write('go\n');
    const deadline = Date.now() + timeoutMs;
    while (!this.output.includes('done')) {
      if (this.child.exitCode !== null) throw new Error(`workload exited early: ${this.output}`);
      if (Date.now() > deadline) throw new Error(`workload did not finish in ${timeoutMs} ms: ${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
