// bcrypt comparisons on a worker thread (see bcryptThread.ts for why), one at
// a time as the exporter-toolkit does (a comparison is all CPU), with a
// bounded queue: a flood of logins waits for a free slot or is turned away,
// and never takes the agent's thread or unbounded memory.
import path from 'node:path';
import { Worker } from 'node:worker_threads';

import type { CompareRequest, CompareResult } from './bcryptThread';

/** Logins waiting for the thread; ~70 ms each at cost 10, so the last waits about half a second. */
export const MAX_PENDING_COMPARES = 8;

export class BcryptWorker {
  private worker?: Worker;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (match: boolean) => void; reject: (e: Error) => void }>();

  /** Whether `password` matches `hash`; 'busy' when MAX_PENDING_COMPARES are already waiting. */
  compare(password: string, hash: string): Promise<boolean | 'busy'> {
    if (this.pending.size >= MAX_PENDING_COMPARES) return Promise.resolve('busy');
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) worker.ref(); // keeps the process alive only while a login waits
      const request: CompareRequest = { id, password, hash };
      worker.postMessage(request);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(path.join(__dirname, 'bcryptThread.js'));
    worker.unref();
    worker.on('message', ({ id, match }: CompareResult) => {
      this.pending.get(id)?.resolve(match);
      this.pending.delete(id);
      if (this.pending.size === 0) worker.unref();
    });
    // A thread that dies (it should not) fails its waiting logins and is replaced on the next one.
    const fail = (error: Error): void => {
      if (this.worker === worker) this.worker = undefined;
      for (const { reject } of this.pending.values()) reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`bcrypt thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }
}
