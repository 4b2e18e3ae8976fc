// Basic auth from a web config's basic_auth_users (bcrypt hashes) on a real
// server: the right password gets in, a wrong or missing one gets 401 with
// WWW-Authenticate, a verified login is remembered (bcrypt runs once for two
// scrapes), the event loop keeps turning while bcrypt runs, and a flood of
// logins is turned away instead of queued without bound.
import { monitorEventLoopDelay } from 'node:perf_hooks';

import bcrypt from 'bcryptjs';
import t from 'tap';

import { webSettings } from '../../src/config/webConfig';
import { BcryptWorker, MAX_PENDING_COMPARES } from '../../src/export/BcryptWorker';
import { HttpServer } from '../../src/export/HttpServer';
import { PrometheusExporter } from '../../src/export/PrometheusExporter';
import { writeConfig } from '../helpers/configFile';
import { httpGet } from '../helpers/net';
import type { HasTeardown } from '../helpers/teardown';

/** The exporter-toolkit's hash of "fakepassword", as htpasswd -B writes it ($2y$): hashes from Go tools work. */
const TOOLKIT_HASH = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';

/** A server whose users are `users` (name -> bcrypt hash), on a free port. */
async function startServer(t: HasTeardown, users: Record<string, string>): Promise<number> {
  const yaml = `basic_auth_users:\n${Object.entries(users)
    .map(([user, hash]) => `  ${user}: '${hash}'\n`)
    .join('')}`;
  const server = new HttpServer(new PrometheusExporter([]), () => true, webSettings(writeConfig(t, yaml)));
  t.teardown(() => server.shutdown());
  return (await server.start('127.0.0.1:0')).port;
}

/** Counts bcrypt comparisons made through BcryptWorker until teardown. */
function countCompares(t: HasTeardown): { count: number } {
  const counter = { count: 0 };
  const { prototype } = BcryptWorker;
  const real = Object.getOwnPropertyDescriptor(prototype, 'compare')!;
  const compare = real.value as BcryptWorker['compare'];
  Object.defineProperty(prototype, 'compare', {
    ...real,
    value(this: BcryptWorker, password: string, hash: string) {
      counter.count++;
      return compare.call(this, password, hash);
    },
  });
  t.teardown(() => Object.defineProperty(prototype, 'compare', real));
  return counter;
}

void t.test('right password 200, wrong or missing 401 with WWW-Authenticate, on every endpoint', async (t) => {
  const port = await startServer(t, { prometheus: bcrypt.hashSync('s3cret', 10), go: TOOLKIT_HASH });
  for (const path of ['/metrics', '/healthz', '/readyz']) {
    t.equal((await httpGet(port, path, 5000, { auth: 'prometheus:s3cret' })).status, 200, `${path}: right password`);
    for (const [what, auth] of [
      ['no credentials', undefined],
      ['wrong password', 'prometheus:s3cret2'],
      ['unknown user', 'nobody:s3cret'],
      ['empty password', 'prometheus:'],
    ] as const) {
      const { status, headers } = await httpGet(port, path, 5000, { auth });
      t.same([status, headers['www-authenticate']], [401, 'Basic'], `${path}: ${what}`);
    }
  }
  t.equal((await httpGet(port, '/metrics', 5000, { auth: 'go:fakepassword' })).status, 200, 'a $2y$ hash (htpasswd)');
  t.equal((await httpGet(port, '/nowhere', 5000)).status, 401, 'an unknown path: 401 too, nothing revealed');
});

void t.test('a verified login is remembered: two scrapes, one bcrypt comparison', async (t) => {
  const port = await startServer(t, { prometheus: bcrypt.hashSync('s3cret', 10) });
  const compares = countCompares(t);
  for (let scrape = 1; scrape <= 3; scrape++) {
    t.equal((await httpGet(port, '/metrics', 5000, { auth: 'prometheus:s3cret' })).status, 200, `scrape ${scrape}`);
  }
  t.equal(compares.count, 1, 'bcrypt ran for the first scrape only');
  for (let attempt = 1; attempt <= 2; attempt++) {
    t.equal((await httpGet(port, '/metrics', 5000, { auth: 'prometheus:guess' })).status, 401, `wrong ${attempt}`);
  }
  t.equal(compares.count, 3, 'failures are not remembered: each one compared');
});

void t.test('the event loop keeps turning while bcrypt compares', async (t) => {
  // Cost 12: ~300 ms a comparison here; on this thread it would stall the loop as long.
  const port = await startServer(t, { prometheus: bcrypt.hashSync('s3cret', 12) });
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const started = Date.now();
  t.equal((await httpGet(port, '/metrics', 10000, { auth: 'prometheus:s3cret' })).status, 200, 'logged in');
  const took = Date.now() - started;
  delay.disable();
  const longest = delay.max / 1e6;
  t.ok(longest < took / 2, `longest event-loop stall ${longest.toFixed(1)} ms, under half the ${took} ms login`);
});

void t.test('a flood of logins is turned away with 503, and the right password still gets in after', async (t) => {
  const port = await startServer(t, { prometheus: bcrypt.hashSync('s3cret', 12) });
  const flood = 4 * MAX_PENDING_COMPARES;
  const statuses = await Promise.all(
    Array.from({ length: flood }, (_, i) =>
      httpGet(port, '/metrics', 60000, { auth: `prometheus:guess${i}` }).then((r) => r.status),
    ),
  );
  const count = (status: number): number => statuses.filter((s) => s === status).length;
  t.equal(count(401) + count(503), flood, `only 401 and 503 (${count(401)} and ${count(503)})`);
  t.ok(count(503) > 0, 'some turned away while the queue was full');
  t.ok(count(401) >= MAX_PENDING_COMPARES, `at least a full queue compared (${count(401)})`);
  t.equal((await httpGet(port, '/metrics', 10000, { auth: 'prometheus:s3cret' })).status, 200, 'then a login works');
});
