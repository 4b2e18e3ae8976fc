// The OTLP collector failing in the ways collectors fail: nothing listening,
// going away and coming back (twice), answering later than the export
// timeout, never answering at shutdown. Throughout, the agent drains a known
// exec workload with nothing lost, counts each export's outcome in
// kernscope_otlp_exports_total, logs one line per outage and one per recovery
// (not one per attempt), and once the collector is back the cumulative count
// it receives is exact.
import t from 'tap';

import { AgentProcess } from '../helpers/agent';
import { createCgroup, execsIn } from '../helpers/cgroup';
import { valueOf } from '../helpers/metrics';
import { freePort } from '../helpers/net';
import { OtlpReceiver } from '../helpers/otlpReceiver';
import type { HasTeardown } from '../helpers/teardown';
import { waitFor } from '../helpers/teardown';

const FAST_EXPORTS = { OTEL_METRIC_EXPORT_INTERVAL: '500', OTEL_METRIC_EXPORT_TIMEOUT: '400' };
const EXECS = 40;
const SHUTDOWN_DEADLINE_MS = 5000; // run.ts

/** An exec-counting agent exporting to 127.0.0.1:port, and its workload's cgroup. */
async function execAgent(t: HasTeardown, port: number, env: NodeJS.ProcessEnv = FAST_EXPORTS) {
  const cgroup = createCgroup(t);
  const agent = await AgentProcess.start(
    t,
    ['--probes', 'exec', '--cgroup', cgroup, '--attribution', 'false', '--otlp-endpoint', `http://127.0.0.1:${port}`],
    { env },
  );
  return { agent, cgroup };
}

/** Runs `count` execs and waits until /metrics has them all: drained, none lost. */
async function execsDrained(agent: AgentProcess, cgroup: string, count: number, total: number): Promise<void> {
  await execsIn(cgroup, count);
  await waitFor(`${total} execs in /metrics`, async () => {
    const samples = await agent.metrics();
    const lost = valueOf(samples, 'kernscope_events_lost_total', { probe: 'exec' });
    if (lost !== 0) throw new Error(`${lost} events lost`);
    return valueOf(samples, 'kernscope_process_execs_total') === total ? true : undefined;
  });
}

async function exportCount(agent: AgentProcess, result: 'success' | 'failure'): Promise<number> {
  return valueOf(await agent.metrics(), 'kernscope_otlp_exports_total', { result }) ?? 0;
}

/** Waits for more exports with `result` than now, i.e. at least one more after this moment. */
async function anotherExport(agent: AgentProcess, result: 'success' | 'failure'): Promise<void> {
  const now = await exportCount(agent, result);
  await waitFor(`another ${result}`, async () => ((await exportCount(agent, result)) > now ? true : undefined), {
    timeoutMs: 10000,
  });
}

/** The newest kernscope.process.execs point the receiver holds (undefined before any). */
function receivedExecs(receiver: OtlpReceiver) {
  return receiver.latestMetrics().get('kernscope.process.execs')?.points[0];
}

const logLines = (agent: AgentProcess, text: string): number => agent.log.split(text).length - 1;

/** Waits for `times` lines of `text`: the collector holds an export before the agent reads the answer and logs. */
async function logged(agent: AgentProcess, text: string, times: number): Promise<void> {
  await waitFor(`${times} '${text}' lines`, () => (logLines(agent, text) >= times ? true : undefined));
}

/** SIGTERM; resolves with the exit and how long it took. */
async function stopTimed(agent: AgentProcess) {
  const signalled = Date.now();
  const exit = await agent.stop('SIGTERM', SHUTDOWN_DEADLINE_MS + 2000);
  return { exit, ms: Date.now() - signalled };
}

void t.test('nothing listening: draining is unaffected, failures counted, one log line', async (t) => {
  const { agent, cgroup } = await execAgent(t, await freePort());
  await anotherExport(agent, 'failure');
  await execsDrained(agent, cgroup, EXECS, EXECS);
  await anotherExport(agent, 'failure');
  t.ok((await exportCount(agent, 'failure')) >= 2, 'failed exports counted');
  t.equal(await exportCount(agent, 'success'), 0, 'no success');
  t.equal(logLines(agent, 'OTLP export failing'), 1, 'one line for the outage, not one per export');
  const { exit, ms } = await stopTimed(agent);
  t.same(exit, { code: 0, signal: null }, 'SIGTERM: exit 0');
  t.ok(ms < SHUTDOWN_DEADLINE_MS, `within the shutdown deadline (${ms} ms)`);
});

void t.test('flapping: two outages, counts exact and cumulative once the collector is back', async (t) => {
  let receiver = await OtlpReceiver.start(t);
  const { port } = receiver;
  const { agent, cgroup } = await execAgent(t, port);
  let total = 0;
  let startTime: number | undefined;
  for (let outage = 1; outage <= 2; outage++) {
    total += EXECS;
    await execsDrained(agent, cgroup, EXECS, total);
    const point = await waitFor('the collector to receive the count', () =>
      receivedExecs(receiver)?.value === total ? receivedExecs(receiver) : undefined,
    );
    startTime ??= point.startTimeUnixNano;
    t.equal(point.startTimeUnixNano, startTime, `before outage ${outage}: one cumulative series, same start time`);

    await receiver.stop();
    await anotherExport(agent, 'failure');
    total += EXECS;
    await execsDrained(agent, cgroup, EXECS, total); // counted while the collector is away
    await anotherExport(agent, 'failure');

    receiver = await OtlpReceiver.start(t, { port });
    const back = await waitFor(
      'the count made during the outage to arrive',
      () => (receivedExecs(receiver)?.value === total ? receivedExecs(receiver) : undefined),
      { timeoutMs: 15000 },
    );
    t.equal(back.value, total, `after outage ${outage}: the exact cumulative count (${total})`);
    t.equal(back.startTimeUnixNano, startTime, `after outage ${outage}: the same start time, no reset`);
    await logged(agent, 'OTLP export recovered', outage);
  }
  t.equal(logLines(agent, 'OTLP export failing'), 2, 'one failing line per outage');
  t.equal(logLines(agent, 'OTLP export recovered'), 2, 'one recovered line per outage');
  t.same((await stopTimed(agent)).exit, { code: 0, signal: null }, 'SIGTERM: exit 0');
});

void t.test('slow collector: answers later than the export timeout', async (t) => {
  const receiver = await OtlpReceiver.start(t);
  receiver.answerDelayMs = 1500; // the export timeout is 400 ms
  const { agent, cgroup } = await execAgent(t, receiver.port);
  await anotherExport(agent, 'failure');
  await execsDrained(agent, cgroup, EXECS, EXECS);
  await anotherExport(agent, 'failure');
  t.equal(await exportCount(agent, 'success'), 0, 'no export counts as a success');
  t.equal(logLines(agent, 'OTLP export failing'), 1, 'one line while slow');

  receiver.answerDelayMs = 0;
  await anotherExport(agent, 'success');
  await execsDrained(agent, cgroup, EXECS, 2 * EXECS);
  await waitFor('the exact count', () => (receivedExecs(receiver)?.value === 2 * EXECS ? true : undefined));
  t.pass(`the collector, fast again, received the exact cumulative count (${2 * EXECS})`);
  await logged(agent, 'OTLP export recovered', 1);
  t.equal(logLines(agent, 'OTLP export recovered'), 1, 'recovery logged once');
  t.same((await stopTimed(agent)).exit, { code: 0, signal: null }, 'SIGTERM: exit 0');
});

void t.test('shutdown while the collector no longer answers: exit 0 within the deadline', async (t) => {
  const receiver = await OtlpReceiver.start(t);
  // Default interval and timeout (60 s, 30 s): the only exports are the first, at start (answered), and
  // the last, at shutdown, which the collector, hung by then, never answers.
  const { agent, cgroup } = await execAgent(t, receiver.port, {});
  await receiver.waitForRequests(1);
  receiver.answerDelayMs = 600000;
  await execsDrained(agent, cgroup, EXECS, EXECS);
  const { exit, ms } = await stopTimed(agent);
  t.same(exit, { code: 0, signal: null }, 'SIGTERM: exit 0');
  t.ok(ms < SHUTDOWN_DEADLINE_MS, `within the shutdown deadline (${ms} ms)`);
  t.equal(receivedExecs(receiver)?.value, EXECS, 'the last export reached the collector, exact, unanswered');
});
