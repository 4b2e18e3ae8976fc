// What tracing costs a real service, the figure an SRE judges an always-on
// agent by: requests/s of nginx (one worker, a 2.7 KiB static file, wrk
// -t1 -c32) and of redis-server (GET, redis-benchmark -c32), each server
// pinned to CPU 0 and its client to CPU 1, over loopback; with nothing
// attached, with a no-op program on the syscall tracepoints (the floor of any
// per-syscall hook), with each kernscope probe alone, with the default set
// (plain `kernscope run`), and with libbpf-tools syscount and a bpftrace
// count on raw_syscalls:sys_exit. The tracers are system-wide and unpinned,
// as deployed: their own CPU time is part of what the service loses. Columns
// alternate round by round with a nothing-attached measurement between every
// two; loss is the median of each measurement's loss against the ones around
// it, with the spread.
//
// usage: node dist/bench/services.js [--seconds S] [--rounds N] [--services nginx,redis]
//                                     [--columns REGEX] [--json]
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { BUILTIN_PROBES } from '../src/probes';
import { machine } from './machine';
import { printColumns, positiveInt } from './report';
import type { Bracketed, Tracer } from './tracers';
import { NOTHING, agent, bpfRunTimeNs, command, measureBracketed, median, noopFloor, whileAttached } from './tracers';

const USAGE =
  'usage: node dist/bench/services.js [--seconds S] [--rounds N] [--services nginx,redis] [--columns REGEX] [--json]';
const SERVER_CPU = '0';
const CLIENT_CPU = '1';
const CONNECTIONS = 32;

/** A service under load: requests/s over one round. */
interface Service {
  name: string;
  workload: string;
  start(dir: string): Promise<{ measure(seconds: number): Promise<number>; stop(): Promise<void> }>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = http.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Runs a command to completion, pinned to `cpu`; its stdout. */
function pinned(cpu: string, file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', cpu, file, ...args]);
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${file} exited ${code}: ${err || out}`));
    });
  });
}

/** Starts a long-running server pinned to the server CPU; resolves once `ready()` says so. */
async function server(file: string, args: string[], ready: () => Promise<boolean>): Promise<() => Promise<void>> {
  const child: ChildProcess = spawn('taskset', ['-c', SERVER_CPU, file, ...args], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 10000;
  while (!(await ready().catch(() => false))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`${file} did not start`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return stop;
}

const nginx: Service = {
  name: 'nginx',
  workload: `nginx-light, 1 worker on CPU ${SERVER_CPU}, 2.7 KiB static file; wrk -t1 -c${CONNECTIONS} on CPU ${CLIENT_CPU}`,
  async start(dir) {
    const port = await freePort();
    chmodSync(dir, 0o755); // the worker runs as nginx's unprivileged user
    mkdirSync(path.join(dir, 'html'));
    writeFileSync(path.join(dir, 'html', 'page.html'), `<html><body>${'kernscope '.repeat(274)}</body></html>\n`);
    const conf = path.join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      [
        'worker_processes 1;',
        'daemon off;',
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log;`,
        'events { worker_connections 1024; }',
        'http {',
        '  access_log off;',
        `  client_body_temp_path ${dir}/client_body;`,
        `  server { listen 127.0.0.1:${port}; root ${dir}/html; }`,
        '}',
      ].join('\n'),
    );
    const url = `http://127.0.0.1:${port}/page.html`;
    const stop = await server(
      'nginx',
      ['-c', conf, '-e', `${dir}/error.log`],
      () =>
        new Promise((resolve) =>
          http.get(url, (res) => resolve(res.resume().statusCode === 200)).on('error', () => resolve(false)),
        ),
    );
    return {
      async measure(seconds) {
        const out = await pinned(
          CLIENT_CPU,
          'wrk',
          ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, url],
          (seconds + 30) * 1000,
        );
        if (/Non-2xx|Socket errors/.test(out)) throw new Error(`wrk saw errors: ${out}`);
        const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
        if (!rps) throw new Error(`wrk printed no rate: ${out}`);
        return Number(rps);
      },
      stop,
    };
  },
};

const redis: Service = {
  name: 'redis',
  workload: `redis-server on CPU ${SERVER_CPU}, no persistence; redis-benchmark GET -c${CONNECTIONS} on CPU ${CLIENT_CPU}`,
  async start(dir) {
    const port = String(await freePort());
    const stop = await server(
      'redis-server',
      [
        '--port',
        port,
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--logfile',
        `${dir}/redis.log`,
      ],
      async () => (await pinned(CLIENT_CPU, 'redis-cli', ['-p', port, 'ping'], 5000)).trim() === 'PONG',
    );
    const run = async (requests: number): Promise<number> => {
      const args = ['-p', port, '-c', String(CONNECTIONS), '-n', String(requests), '-t', 'get', '--csv'];
      const out = await pinned(CLIENT_CPU, 'redis-benchmark', args, 120000);
      const rps = /^"GET","([\d.]+)"/m.exec(out)?.[1];
      if (!rps) throw new Error(`redis-benchmark printed no rate: ${out}`);
      return Number(rps);
    };
    // redis-benchmark runs a count, not a time: size the count to the round from an untraced calibration.
    const calibrated = await run(100000);
    return {
      measure: (seconds) => run(Math.round(calibrated * seconds)),
      stop,
    };
  },
};

const TRACERS: Tracer[] = [
  noopFloor('floor: no-op on sys_enter + sys_exit', ['noop_sys_enter', 'noop_sys_exit']),
  noopFloor('floor: no-op on sys_exit', ['noop_sys_exit']),
  ...BUILTIN_PROBES.map((probe) => agent(`kernscope ${probe.name}`, probe.name)),
  agent('kernscope syscalls, every call timed', 'syscalls', '--syscall-latency-every', '1'),
  agent('kernscope default set (kernscope run)', undefined),
  command('libbpf-tools syscount', '/usr/sbin/syscount', [], /Tracing syscalls/),
  command(
    'bpftrace count raw_syscalls:sys_exit',
    'bpftrace',
    ['-e', 'tracepoint:raw_syscalls:sys_exit { @ = count(); }'],
    /Attaching/,
  ),
];

interface Row {
  column: string;
  requestsPerSecond: number;
  /** Median of each measurement's loss against the nothing-attached ones around it, %. */
  lossPercent: number;
  lossMin: number;
  lossMax: number;
  /** The tracer's own process: median % of one CPU while measured (user space and its system calls). */
  tracerCpuPercent?: number;
  /** Kernel time in its BPF programs, % of one CPU, from the pass with BPF run-time statistics on. */
  bpfCpuPercent?: number;
}

/**
 * The time each tracer's programs run while the service is under load, % of
 * one CPU: one measurement each with kernel.bpf_stats_enabled set, a pass of
 * its own because counting costs every program run two clock reads.
 */
async function programTime(tracers: Tracer[], measure: () => Promise<number>, seconds: number) {
  const file = '/proc/sys/kernel/bpf_stats_enabled';
  const before = readFileSync(file, 'utf8').trim();
  writeFileSync(file, '1');
  try {
    const percent = new Map<string, number>();
    for (const tracer of tracers) {
      process.stderr.write(`BPF run time: ${tracer.name}\n`);
      await whileAttached(tracer, async (running) => {
        const start = bpfRunTimeNs(running.pid);
        await measure();
        percent.set(tracer.name, ((bpfRunTimeNs(running.pid) - start) / (seconds * 1e9)) * 100);
      });
    }
    return percent;
  } finally {
    writeFileSync(file, before);
  }
}

function rowsOf(results: Map<string, Bracketed[]>, programs: Map<string, number>, seconds: number): Row[] {
  const baselines = [...results.values()].flat().map((m) => m.baseline);
  const nothing: Row = {
    column: NOTHING.name,
    requestsPerSecond: median(baselines),
    lossPercent: 0,
    lossMin: 0,
    lossMax: 0,
  };
  const traced = [...results].map(([column, measurements]): Row => {
    const losses = measurements.map((m) => (1 - m.value / m.baseline) * 100);
    const cpu = measurements.flatMap((m) => (m.cpuSeconds === undefined ? [] : [(m.cpuSeconds / seconds) * 100]));
    return {
      column,
      requestsPerSecond: median(measurements.map((m) => m.value)),
      lossPercent: median(losses),
      lossMin: Math.min(...losses),
      lossMax: Math.max(...losses),
      tracerCpuPercent: cpu.length ? median(cpu) : undefined,
      bpfCpuPercent: programs.get(column),
    };
  });
  return [nothing, ...traced];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const seconds = positiveInt('--seconds', value('--seconds') ?? '3', USAGE);
  const rounds = positiveInt('--rounds', value('--rounds') ?? '7', USAGE);
  const names = (value('--services') ?? 'nginx,redis').split(',');
  const services = names.map((name) => {
    const service = [nginx, redis].find((s) => s.name === name);
    if (!service) throw new Error(`unknown service '${name}': expected nginx or redis\n${USAGE}`);
    return service;
  });
  const pattern = new RegExp(value('--columns') ?? '.');
  const tracers = TRACERS.filter((t) => pattern.test(t.name));
  if (os.cpus().length < 2) throw new Error('needs 2 CPUs: one for the server, one for its client');

  const report: Record<string, unknown> = { machine: machine(), seconds, rounds, services: {} };
  for (const service of services) {
    const dir = mkdtempSync(path.join(os.tmpdir(), `kernscope-${service.name}-`));
    try {
      const running = await service.start(dir);
      try {
        await running.measure(Math.min(seconds, 2)); // warm-up: caches, connection set-up
        const results = await measureBracketed(tracers, rounds, () => running.measure(seconds));
        const programs = await programTime(tracers, () => running.measure(seconds), seconds);
        (report.services as Record<string, unknown>)[service.name] = {
          workload: service.workload,
          rows: rowsOf(results, programs, seconds),
        };
      } finally {
        await running.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  if (argv.includes('--json')) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  const m = report.machine as Record<string, string | number>;
  console.log(`cpu: ${m.cpu} (${m.cores} cores)  kernel: ${m.kernel}  libbpf: ${m.libbpf}  node: ${m.node}`);
  console.log(`versions: ${versions()}  load before: ${m.load}`);
  console.log(
    `${rounds} rounds of ${seconds} s per column, nothing attached between every two columns; loss: median of\n` +
      'each measurement against the nothing-attached ones around it; tracer CPU: its own process, % of one CPU;\n' +
      'BPF CPU: its programs, % of one CPU, in a pass of its own with BPF run-time statistics on\n',
  );
  for (const [name, result] of Object.entries(report.services as Record<string, { workload: string; rows: Row[] }>)) {
    console.log(`${name}: ${result.workload}`);
    printColumns(
      ['column', 'req/s', 'loss %', 'loss min..max', 'tracer CPU %', 'BPF CPU %'],
      result.rows.map((r) => [
        r.column,
        r.requestsPerSecond.toFixed(0),
        r.lossPercent.toFixed(1),
        `${r.lossMin.toFixed(1)}..${r.lossMax.toFixed(1)}`,
        r.tracerCpuPercent === undefined ? '' : r.tracerCpuPercent.toFixed(2),
        r.bpfCpuPercent === undefined ? '' : r.bpfCpuPercent.toFixed(3),
      ]),
    );
    console.log('');
  }
}

/** The services' and tools' versions, as each prints it first (nginx -v on stderr). */
function versions(): string {
  const first = (file: string, args: string[]): string => {
    const { stdout, stderr, error } = spawnSync(file, args, { encoding: 'utf8' });
    return error ? `${file} not found` : `${stdout}${stderr}`.split('\n')[0].trim();
  };
  return [
    first('nginx', ['-v']),
    first('wrk', ['--version']),
    first('redis-server', ['--version']),
    first('bpftrace', ['--version']),
  ].join('; ');
}

main().catch((error: unknown) => {
  console.error(`services: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
