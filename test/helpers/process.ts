// Child processes: run to completion with a deadline, or wait for one to exit.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';

import { scaled } from './teardown';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunResult extends Exit {
  stdout: string;
  stderr: string;
  /** The child outlived `timeoutMs` and was killed. */
  timedOut: boolean;
}

/**
 * This process's environment without what tap adds (NODE_OPTIONS loading its
 * process-info hook, TAP_* settings): children run as they would for a user.
 */
export function childEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([key]) => key !== 'NODE_OPTIONS' && !/^_?TAP/.test(key)),
  );
}

/**
 * spawn() for children that must run as a user would run them. Under tap,
 * @tapjs/processinfo rewrites every spawn to load its hook through
 * NODE_OPTIONS (signal-exit handlers, a report file written at exit); going
 * through `env -u NODE_OPTIONS` drops that after tap's rewrite. `env` execs,
 * so the child's pid is the command's pid.
 */
export function spawnClean(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', command, ...args], {
    cwd: options.cwd,
    env: { ...childEnv(), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Resolves with the exit of `child`, or 'timeout' when it is still running after `timeoutMs`. */
export function waitExit(child: ChildProcess, timeoutMs: number): Promise<Exit | 'timeout'> {
  timeoutMs = scaled(timeoutMs);
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve('timeout');
    }, timeoutMs);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      resolve({ code, signal });
    };
    child.once('exit', onExit);
  });
}

/** Runs a command to completion (killed with SIGKILL after `timeoutMs`). */
export async function run(
  command: string,
  args: string[],
  { timeoutMs = 30000, cwd, env }: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  const child = spawnClean(command, args, { cwd, env });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const closed = new Promise<Exit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, scaled(timeoutMs));
  try {
    const exit = await closed;
    return { ...exit, stdout, stderr, timedOut };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `node file args...` with this process's node binary. */
export function runNode(file: string, args: string[] = [], timeoutMs = 30000): Promise<RunResult> {
  return run(process.execPath, [file, ...args], { timeoutMs });
}

/** Non-empty lines of a child's output. */
export function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '');
}
