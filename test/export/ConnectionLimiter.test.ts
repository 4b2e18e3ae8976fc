// Who gives way when the endpoint is full, over stand-in sockets (the real
// ones are in slowClients.test.ts and the Prometheus flood test): the oldest
// connection without a request first, then one idle between requests, then
// one whose response is stuck; never one being answered.
import { EventEmitter } from 'node:events';
import type net from 'node:net';

import t from 'tap';

import { ConnectionLimiter, STALLED_MS } from '../../src/export/ConnectionLimiter';

class FakeSocket extends EventEmitter {
  destroyed = false;
  constructor(
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {
    super();
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
}

let port = 10000;
const socket = (address = '10.0.0.1') => new FakeSocket(address, port++);
const admit = (limiter: ConnectionLimiter, s: FakeSocket): FakeSocket => {
  limiter.admit(s as unknown as net.Socket);
  return s;
};
const asNet = (s: FakeSocket) => s as unknown as net.Socket;

void t.test('past the total, the oldest connection that sent no request gives way', (t) => {
  const limiter = new ConnectionLimiter({ total: 3, perSource: 10 });
  const [a, b, c] = [
    admit(limiter, socket('10.0.0.1')),
    admit(limiter, socket('10.0.0.2')),
    admit(limiter, socket('10.0.0.3')),
  ];
  limiter.requestStarted(asNet(a)); // a is being answered
  const d = admit(limiter, socket('10.0.0.4'));
  t.same([a.destroyed, b.destroyed, c.destroyed, d.destroyed], [false, true, false, false], 'b, the oldest idle one');
  t.equal(limiter.size, 3);
  t.equal(limiter.shed, 1);
  t.end();
});

void t.test('past a source limit, that source sheds its own: another source is untouched', (t) => {
  const limiter = new ConnectionLimiter({ total: 100, perSource: 2 });
  const other = admit(limiter, socket('10.0.0.9'));
  const [x1, x2] = [admit(limiter, socket()), admit(limiter, socket())];
  const x3 = admit(limiter, socket());
  t.same([other.destroyed, x1.destroyed, x2.destroyed, x3.destroyed], [false, true, false, false]);
  t.end();
});

void t.test('a connection between requests goes after those that never asked; a stuck response after both', (t) => {
  let now = 0;
  const limiter = new ConnectionLimiter({ total: 2, perSource: 10 }, () => now);
  const served = admit(limiter, socket());
  limiter.requestStarted(asNet(served));
  limiter.requestEnded(asNet(served)); // keep-alive, idle
  const fresh = admit(limiter, socket());
  const newest = admit(limiter, socket());
  t.same([served.destroyed, fresh.destroyed], [false, true], 'the one that never asked went first');
  limiter.requestStarted(asNet(newest)); // being answered
  const next = admit(limiter, socket());
  t.same([served.destroyed, newest.destroyed, next.destroyed], [true, false, false], 'then the idle keep-alive one');

  const busy = new ConnectionLimiter({ total: 1, perSource: 10 }, () => now);
  const answering = admit(busy, socket());
  busy.requestStarted(asNet(answering));
  const refused = admit(busy, socket());
  t.same([answering.destroyed, refused.destroyed], [false, true], 'one being answered is never cut: the new one is');
  t.equal(busy.refused, 1);
  now += STALLED_MS;
  const later = admit(busy, socket());
  t.same([answering.destroyed, later.destroyed], [true, false], `a response stuck for ${STALLED_MS} ms gives way`);
  t.end();
});

void t.test('a closed connection leaves no trace', (t) => {
  const limiter = new ConnectionLimiter({ total: 2, perSource: 2 });
  const sockets = [admit(limiter, socket()), admit(limiter, socket())];
  for (const s of sockets) s.destroy();
  t.equal(limiter.size, 0);
  const again = [admit(limiter, socket()), admit(limiter, socket())];
  t.same(
    again.map((s) => s.destroyed),
    [false, false],
    'room again, nothing shed',
  );
  t.equal(limiter.shed, 0);
  t.end();
});
