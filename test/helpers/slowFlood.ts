// Slow clients that keep coming back: each of `clients` connections sends
// half a request (or, for TLS, nothing: a handshake that never starts) and
// waits; when the server closes one (to make room, or at its timeout) it
// reconnects after `reopenMs`, so the flood stays at full strength for as
// long as it runs. Sources cycle through `sources` (loopback addresses). The
// flood runs in a process of its own (floodProcess.ts), as an attacker's
// would: its own work does not slow the server under test.
import path from 'node:path';

import { RawConnection } from './net';
import { spawnClean, waitExit } from './process';
import type { HasTeardown } from './teardown';
import { waitFor } from './teardown';

export interface FloodOptions {
  clients: number;
  /** Source addresses, e.g. ['127.0.0.1'] or 127.0.0.2 .. 127.0.0.251. */
  sources: string[];
  /** What each connection sends once connected: half a request by default, '' for a TLS handshake never begun. */
  send?: string;
  reopenMs?: number;
}

export const HALF_REQUEST = 'GET /metrics HTTP/1.1\r\nHost: kernscope\r\n';

export class SlowFlood {
  /** Connections made, and those the server closed. */
  opened = 0;
  closedByServer = 0;
  private stopped = false;
  private readonly live = new Set<RawConnection>();

  private constructor(
    private readonly t: HasTeardown,
    private readonly port: number,
    private readonly options: FloodOptions,
  ) {}

  /** Opens every client (resolves once each has connected or failed once), then keeps them coming back. */
  static async start(t: HasTeardown, port: number, options: FloodOptions): Promise<SlowFlood> {
    const flood = new SlowFlood(t, port, options);
    t.teardown(() => flood.stop());
    await Promise.all(Array.from({ length: options.clients }, (_, i) => flood.client(i)));
    return flood;
  }

  /** Connections open now. */
  get open(): number {
    return this.live.size;
  }

  stop(): void {
    this.stopped = true;
    for (const connection of this.live) connection.socket.destroy();
    this.live.clear();
  }

  private async client(i: number): Promise<void> {
    if (this.stopped) return;
    const source = this.options.sources[i % this.options.sources.length];
    let connection: RawConnection;
    try {
      connection = await RawConnection.open(this.t, this.port, source);
    } catch {
      this.again(i); // refused (a full backlog): try again
      return;
    }
    this.opened++;
    this.live.add(connection);
    connection.write(this.options.send ?? HALF_REQUEST);
    void connection.closed.then(() => {
      if (this.stopped) return;
      this.live.delete(connection);
      this.closedByServer++;
      this.again(i);
    });
  }

  private again(i: number): void {
    if (!this.stopped) setTimeout(() => void this.client(i), this.options.reopenMs ?? 50).unref();
  }
}

/** A flood in a child process; stop() ends it and says what it did. */
export class FloodProcess {
  private output = '';

  private constructor(private readonly child: ReturnType<typeof spawnClean>) {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
  }

  /** Starts the flood against 127.0.0.1:port; resolves once every client has connected once. */
  static async start(t: HasTeardown, port: number, options: FloodOptions): Promise<FloodProcess> {
    const script = path.join(__dirname, 'floodProcess.js');
    const child = spawnClean(process.execPath, [script, String(port), JSON.stringify(options)]);
    t.teardown(() => void child.kill('SIGKILL'));
    const flood = new FloodProcess(child);
    await waitFor('the flood to connect', () => (flood.output.includes('flooding') ? true : undefined), {
      timeoutMs: 30000,
    });
    return flood;
  }

  /** Ends the flood: the connections it made and how many the server closed. */
  async stop(): Promise<{ opened: number; closedByServer: number }> {
    this.child.kill('SIGTERM');
    await waitExit(this.child, 10000);
    const last = this.output.trim().split('\n').at(-1) ?? '{}';
    return JSON.parse(last) as { opened: number; closedByServer: number };
  }
}

/** Loopback source addresses 127.0.0.2 .. 127.0.0.(n + 1). */
export function loopbackSources(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `127.0.0.${i + 2}`);
}
