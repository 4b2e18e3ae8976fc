// Who may hold one of the endpoint's connections. Accepting is never refused
// outright while someone can make room: when a source address, or the
// server, is at its limit, the oldest connection that is doing nothing
// useful gives way to the new one. A connection that has not sent a whole
// request yet goes first (a slow or half-open client), then one idle between
// requests (keep-alive), then one whose response has been stuck for
// STALLED_MS; one being answered is never cut. A scraper sends its request
// as soon as it connects, so a flood of slow clients, from one address or
// many, cannot keep it out: it only ever sheds itself.
import type net from 'node:net';

/** A response that has made no progress for this long (a client not reading it) may give way. */
export const STALLED_MS = 5000;

interface Tracked {
  socket: net.Socket;
  source: string;
  /** Requests completed on this connection. */
  served: number;
  /** When the request being answered arrived; undefined between requests. */
  busySince?: number;
}

export interface ConnectionLimits {
  /** Connections in all. */
  total: number;
  /** Connections from one source address. */
  perSource: number;
}

export class ConnectionLimiter {
  /** Every connection, oldest first, by its `address|port` (the same for a TLS socket and the TCP one under it). */
  private readonly connections = new Map<string, Tracked>();
  private readonly bySource = new Map<string, Map<string, Tracked>>();
  /** Connections closed to make room for newer ones. */
  shed = 0;
  /** Connections closed at once: nothing could give way. */
  refused = 0;

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.connections.size;
  }

  /** A new TCP connection (before any TLS handshake): admitted, making room if it must, or closed. */
  admit(socket: net.Socket): void {
    const key = peerOf(socket);
    const source = socket.remoteAddress ?? '';
    if (key === undefined) {
      socket.destroy(); // already gone
      return;
    }
    const own = this.bySource.get(source);
    if ((own?.size ?? 0) >= this.limits.perSource && !this.makeRoom(own!)) return this.refuse(socket);
    if (this.connections.size >= this.limits.total && !this.makeRoom(this.connections)) return this.refuse(socket);
    const tracked: Tracked = { socket, source, served: 0 };
    this.connections.set(key, tracked);
    const sourceConnections = own ?? new Map<string, Tracked>();
    sourceConnections.set(key, tracked);
    this.bySource.set(source, sourceConnections);
    socket.once('close', () => this.forget(key, tracked));
  }

  /** A request arrived on `socket` (the TLS socket for https). */
  requestStarted(socket: net.Socket): void {
    const tracked = this.tracked(socket);
    if (tracked) tracked.busySince = this.now();
  }

  /** Its response was handed over or its connection closed. */
  requestEnded(socket: net.Socket): void {
    const tracked = this.tracked(socket);
    if (!tracked) return;
    tracked.busySince = undefined;
    tracked.served++;
  }

  private tracked(socket: net.Socket): Tracked | undefined {
    const key = peerOf(socket);
    return key === undefined ? undefined : this.connections.get(key);
  }

  /** Closes the connection of `among` (oldest first) that should give way; false when none may. */
  private makeRoom(among: Map<string, Tracked>): boolean {
    const now = this.now();
    const victim =
      first(among, (c) => c.busySince === undefined && c.served === 0) ??
      first(among, (c) => c.busySince === undefined) ??
      first(among, (c) => now - c.busySince! >= STALLED_MS);
    if (!victim) return false;
    this.shed++;
    this.forget(peerOf(victim.socket) ?? '', victim);
    victim.socket.destroy();
    return true;
  }

  private refuse(socket: net.Socket): void {
    this.refused++;
    socket.destroy();
  }

  private forget(key: string, tracked: Tracked): void {
    if (this.connections.get(key) !== tracked) return;
    this.connections.delete(key);
    const own = this.bySource.get(tracked.source);
    own?.delete(key);
    if (own?.size === 0) this.bySource.delete(tracked.source);
  }
}

function peerOf(socket: net.Socket): string | undefined {
  return socket.remoteAddress === undefined ? undefined : `${socket.remoteAddress}|${socket.remotePort}`;
}

function first(connections: Map<string, Tracked>, test: (c: Tracked) => boolean): Tracked | undefined {
  for (const connection of connections.values()) if (test(connection)) return connection;
  return undefined;
}
