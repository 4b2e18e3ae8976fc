// A real Prometheus scraping a real agent every second (scrape timeout 1 s)
// through floods of 1000 slow clients that keep coming back, from 250 source
// addresses and then from one, and, with TLS on, through 1000 handshakes
// that never begin: no scrape fails (`up` stays 1 at every scrape), and the
// agent counts a known workload exactly meanwhile. The agent's RSS is
// reported before and under the flood.
import { readFileSync } from 'node:fs';

import t from 'tap';

import { AgentProcess } from '../helpers/agent';
import { createCgroup, execsIn } from '../helpers/cgroup';
import { writeConfig } from '../helpers/configFile';
import { valueOf } from '../helpers/metrics';
import { PrometheusServer } from '../helpers/prometheus';
import type { FloodOptions } from '../helpers/slowFlood';
import { FloodProcess, loopbackSources } from '../helpers/slowFlood';
import type { HasTeardown } from '../helpers/teardown';
import { sleep, waitFor } from '../helpers/teardown';
import { selfSignedCert } from '../helpers/tls';

const CLIENTS = 1000;
/** Seconds of each flood: about as many scrapes. */
const FLOOD_SECONDS = 10;
const EXECS_PER_FLOOD = 100;

function rssMiB(pid: number): number {
  const kib = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kib / 1024;
}

interface Window {
  from: number;
  to: number;
}

/** Every scrape of the window: how many, how many up, the slowest (Prometheus' own records). */
async function scrapesIn(prometheus: PrometheusServer, { from, to }: Window) {
  const seconds = Math.floor((to - from) / 1000);
  const at = to / 1000;
  const up = `up{job="${prometheus.job}"}`;
  return {
    scrapes: (await prometheus.value(`count_over_time(${up}[${seconds}s])`, at)) ?? 0,
    up: (await prometheus.value(`sum_over_time(${up}[${seconds}s])`, at)) ?? 0,
    slowest:
      (await prometheus.value(`max_over_time(scrape_duration_seconds{job="${prometheus.job}"}[${seconds}s])`, at)) ??
      NaN,
  };
}

/** A flood for FLOOD_SECONDS while the workload runs in `cgroup`; the window it covered and its connections. */
async function flood(
  t: HasTeardown,
  port: number,
  options: FloodOptions,
  cgroup: string,
): Promise<Window & { opened: number }> {
  const started = await FloodProcess.start(t, port, options);
  const from = Date.now();
  await execsIn(cgroup, EXECS_PER_FLOOD);
  await sleep(from + FLOOD_SECONDS * 1000 - Date.now());
  const to = Date.now();
  const { opened } = await started.stop();
  return { from, to, opened };
}

void t.test('plain http: up stays 1 through 1000 slow clients from many sources and from one', async (t) => {
  const cgroup = createCgroup(t);
  const agent = await AgentProcess.start(t, ['--probes', 'exec', '--cgroup', cgroup]);
  const prometheus = await PrometheusServer.start(t, [`127.0.0.1:${agent.port}`]);
  await prometheus.scrapeAfter(Date.now());
  const rssBefore = rssMiB(agent.pid);
  let rssFlooded = 0;
  const floods: [string, FloodOptions][] = [
    ['250 sources', { clients: CLIENTS, sources: loopbackSources(250) }],
    ['one source', { clients: CLIENTS, sources: ['127.0.0.2'] }],
  ];
  for (const [what, options] of floods) {
    const window = await flood(t, agent.port, options, cgroup);
    rssFlooded = Math.max(rssFlooded, rssMiB(agent.pid));
    await prometheus.scrapeAfter(window.to);
    const { scrapes, up, slowest } = await scrapesIn(prometheus, window);
    t.comment(`${what}: ${window.opened} slow connections made`);
    t.ok(scrapes >= FLOOD_SECONDS - 2, `${what}: ${scrapes} scrapes in ${FLOOD_SECONDS} s`);
    t.equal(up, scrapes, `${what}: every scrape up (slowest ${(slowest * 1000).toFixed(0)} ms)`);
  }
  const execs = valueOf(await agent.metrics(), 'kernscope_process_execs_total') ?? 0;
  t.equal(execs, floods.length * EXECS_PER_FLOOD, 'every exec of the workload counted, exactly');
  t.equal(await prometheus.value('kernscope_process_execs_total'), execs, 'and stored by Prometheus');
  t.comment(`agent RSS ${rssBefore.toFixed(0)} MiB before, at most ${rssFlooded.toFixed(0)} MiB under the floods`);
  t.ok(rssFlooded - rssBefore < 64, 'RSS under the flood within 64 MiB of before');
});

void t.test('https: up stays 1 through 1000 TLS handshakes that never begin', async (t) => {
  const cert = await selfSignedCert(t);
  const web = writeConfig(t, `tls_server_config:\n  cert_file: ${cert.certPath}\n  key_file: ${cert.keyPath}\n`);
  const cgroup = createCgroup(t);
  const agent = await AgentProcess.start(t, ['--probes', 'exec', '--cgroup', cgroup, '--web-config', web], {
    client: { ca: cert.cert },
  });
  const prometheus = await PrometheusServer.start(t, [`127.0.0.1:${agent.port}`], { caFile: cert.certPath });
  await prometheus.scrapeAfter(Date.now());
  const rssBefore = rssMiB(agent.pid);
  const window = await flood(t, agent.port, { clients: CLIENTS, sources: loopbackSources(250), send: '' }, cgroup);
  const rssFlooded = rssMiB(agent.pid);
  await prometheus.scrapeAfter(window.to);
  const { scrapes, up, slowest } = await scrapesIn(prometheus, window);
  t.ok(scrapes >= FLOOD_SECONDS - 2, `${scrapes} scrapes in ${FLOOD_SECONDS} s`);
  t.equal(up, scrapes, `every scrape up (slowest ${(slowest * 1000).toFixed(0)} ms)`);
  await waitFor('the execs counted', async () =>
    (valueOf(await agent.metrics(), 'kernscope_process_execs_total') ?? 0) >= EXECS_PER_FLOOD ? true : undefined,
  );
  t.equal(
    valueOf(await agent.metrics(), 'kernscope_process_execs_total'),
    EXECS_PER_FLOOD,
    'every exec counted, exactly',
  );
  t.comment(`agent RSS ${rssBefore.toFixed(0)} MiB before, ${rssFlooded.toFixed(0)} MiB under the TLS flood`);
  t.ok(rssFlooded - rssBefore < 64, 'RSS under the flood within 64 MiB of before');
});
