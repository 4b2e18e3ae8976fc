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
import { sleep } from './teardown';

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
   * /readyz 200 (asked as `client`), with `env` added to the environment;
   * `through` is a command that execs node with the rest (`setpriv ...`), so
   * the pid stays the agent's. The child is SIGKILLed at teardown if it still runs.
   */
  static async start(
    t: HasTeardown,
    args: string[],
    {
      env = {},
      readyTimeoutMs = 20000,
      client = {},
      through = [],
    }: { env?: NodeJS.ProcessEnv; readyTimeoutMs?: number; client?: HttpClient; through?: string[] } = {},
  ): Promise<AgentProcess> {
    const port = await freePort();
    const command = [...through, process.execPath, CLI, 'run', '--listen', `127.0.0.1:${port}`, ...args];
    const child = spawnClean(command[0], command.slice(1), { env });
    const agent = new AgentProcess(child, port, client);
    t.teardown(() => agent.kill());
    await agent.waitReady(readyTimeoutMs);
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
