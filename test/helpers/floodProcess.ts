// `node floodProcess.js PORT OPTIONS_JSON`: a SlowFlood against 127.0.0.1:PORT
// until SIGTERM; prints `flooding` once connected, and its counts (JSON) at the end.
import { SlowFlood } from './slowFlood';
import type { FloodOptions } from './slowFlood';

const teardowns: (() => unknown)[] = [];

async function main(): Promise<void> {
  const [port, options] = [Number(process.argv[2]), JSON.parse(process.argv[3]) as FloodOptions];
  const flood = await SlowFlood.start({ teardown: (fn) => void teardowns.push(fn) }, port, options);
  process.stdout.write('flooding\n');
  process.once('SIGTERM', () => {
    flood.stop();
    const counts = JSON.stringify({ opened: flood.opened, closedByServer: flood.closedByServer });
    process.stdout.write(`${counts}\n`, () => process.exit(0));
  });
}

void main();
