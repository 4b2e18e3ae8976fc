// `kernscope run` as a child process on a free local port.
import type { ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';

import type { Sample } from './metrics';
import { scrape } from './metrics';
import type { HttpClient } from './net';
import { freePort, httpGet } from './net';
import { CLI } from './paths';
import type { Exit } from './process';
import { spawnClean, waitExit } from './process';
import type { HasTeardown } from './teardown';
import { scaled, sleep } from './teardown';

export interface SpawnOptions {
  /** Added to the environment. */
  env?: NodeJS.ProcessEnv;
  /** A cgroup.procs file the agent joins before it starts. */
  cgroupProcs?: string;
  /** A command that execs node with the rest (`setpriv ...`), so the pid stays the agent's. */
  through?: string[];
  /** How to reach it: TLS and basic auth when it runs with a web config. */
  client?: HttpClient;
}

export class AgentProcess {
  private output = '';

  private constructor(
    readonly child: ChildProcessByStdio<null, Readable, Readable>,
    readonly port: number,
    /** How to reach it: TLS and basic auth when it runs with a web config. */
    readonly client: HttpClient,
  ) {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
  }

  /**
   * Spawns `kernscope run --listen 127.0.0.1:<free port> ...args` and waits for
   * /readyz 200 (asked as `client`). The child is SIGKILLed at teardown if it still runs.
   */
  static async start(
    t: HasTeardown,
    args: string[],
    { readyTimeoutMs = 20000, ...options }: SpawnOptions & { readyTimeoutMs?: number } = {},
  ): Promise<AgentProcess> {
    const agent = await AgentProcess.spawn(t, args, options);
    await agent.waitReady(readyTimeoutMs);
    return agent;
  }

  /**
   * Spawns the agent as start() does, without waiting for anything. With
   * `cgroupProcs` (a cgroup.procs file) it joins that cgroup before node
   * starts, so everything it allocates (BPF maps included) is charged there.
   */
  static async spawn(
    t: HasTeardown,
    args: string[],
    { env = {}, cgroupProcs, through = [], client = {} }: SpawnOptions = {},
  ) {
    const port = await freePort();
    const node = [process.execPath, CLI, 'run', '--listen', `127.0.0.1:${port}`, ...args];
    const command = [...through, ...node];
    // sh execs the command, so the pid stays the agent's.
    const child = cgroupProcs
      ? spawnClean('/bin/sh', ['-c', 'echo $$ > "$0" && exec "$@"', cgroupProcs, ...command], { env })
      : spawnClean(command[0], command.slice(1), { env });
    const agent = new AgentProcess(child, port, client);
    t.teardown(() => agent.kill());
    return agent;
  }

  /** What the agent wrote to stdout and stderr so far. */
  get log(): string {
    return this.output;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitReady(timeoutMs: number): Promise<void> {
    timeoutMs = scaled(timeoutMs);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) {
        throw new Error(`agent exited (${this.child.exitCode ?? this.child.signalCode}) before ready:\n${this.output}`);
      }
      try {
        if ((await httpGet(this.port, '/readyz', 1000, this.client)).status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`agent not ready after ${timeoutMs} ms:\n${this.output}`);
      await sleep(50);
    }
  }

  metrics(): Promise<Sample[]> {
    return scrape(this.port, this.client);
  }

  /** Waits up to `timeoutMs` for the agent to exit by itself. */
  exited(timeoutMs: number): Promise<Exit | 'timeout'> {
    return waitExit(this.child, timeoutMs);
  }

  /** Sends `signal` and waits up to `timeoutMs` for the exit. */
  async stop(signal: NodeJS.Signals, timeoutMs: number): Promise<Exit | 'timeout'> {
    const exited = waitExit(this.child, timeoutMs);
    this.child.kill(signal);
    return exited;
  }

  /** SIGKILL if still running, then wait for the exit. */
  async kill(): Promise<void> {
    if (!this.running) return;
    const exited = waitExit(this.child, 5000);
    this.child.kill('SIGKILL');
    await exited;
  }
}
