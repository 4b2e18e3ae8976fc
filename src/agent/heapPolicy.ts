// The agent's V8 heap policy: a flat footprint before allocation speed.
//
// V8 sizes its heap for the machine. With gigabytes free it lets the old
// generation grow far past its live data between full collections, and gives
// pages back only when the process goes idle, which an agent under steady load
// never does. In the soak (bench/soak.ts: 500k records/s, a scrape every
// second, OTLP every 10 s) RSS rose from 81 to 90 MiB over 30 minutes while the
// live JS heap stayed at 13-14 MiB: V8's committed heap and glibc's heap
// ratcheted up between full collections minutes apart. --optimize-for-size
// makes V8 collect the old generation before it has grown much, and the same
// soak's RSS stays flat (bench/README.md, Soak). The price: full collections
// come more often and pause longer (longest 21 ms against 9 ms at 1M
// records/s), which a 4 MiB ring at that rate only just absorbs.
//
// Not from the first moment: while the agent starts, its heap grows to its
// working set (modules, compiled code, the first export and scrape), and under
// the policy that growth cost full collections whose pauses lost ~85k records
// in the first second at 1M records/s (2 of 4 runs; none in 3 without).
import v8 from 'node:v8';

/** Long enough for start-up to build the heap's working set. */
const START_UP_MS = 60000;

/**
 * V8 reads the flag each time it sets the next full collection's limit, so it
 * holds from the first collection after start-up on.
 */
export function preferSmallHeapAfterStartUp(): void {
  setTimeout(() => v8.setFlagsFromString('--optimize-for-size'), START_UP_MS).unref();
}
