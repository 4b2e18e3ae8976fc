// The body of BcryptWorker's thread: one bcrypt comparison per message, in
// order. bcryptjs's own async compare runs on the calling thread and yields
// only every 100 ms, so a cost-10 hash (~70 ms here) would block the event
// loop, and with it the ring drain, for the whole comparison.
import { parentPort } from 'node:worker_threads';

import bcrypt from 'bcryptjs';

export interface CompareRequest {
  id: number;
  password: string;
  hash: string;
}

export interface CompareResult {
  id: number;
  match: boolean;
}

parentPort?.on('message', ({ id, password, hash }: CompareRequest) => {
  const result: CompareResult = { id, match: bcrypt.compareSync(password, hash) };
  parentPort?.postMessage(result);
});
