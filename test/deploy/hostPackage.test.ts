// The packed kernscope (make package) on a host that has never seen a compiler:
// a Debian minbase root filesystem (mmdebstrap) with only this host's Node.js
// binary and npm copied in. Inside it, through chroot in a private mount
// namespace (so no mount outlives a command): `npm install -g` of the file with
// no network at all, then probes, trace (exact execs), stats and run, and the
// one-line answers to a kernel without BTF, a user without privileges and an
// addon that does not load. Nothing is left in the kernel afterwards.
import type { ChildProcessByStdio } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';

import t from 'tap';

import { bpfIdsOf, waitGone } from '../helpers/bpftool';
import { createCgroup, execsIn } from '../helpers/cgroup';
import { parseMetrics, select } from '../helpers/metrics';
import { freePort, httpGet } from '../helpers/net';
import { ROOT } from '../helpers/paths';
import type { RunResult } from '../helpers/process';
import { lines, run, spawnClean, waitExit } from '../helpers/process';
import { waitFor } from '../helpers/teardown';

const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const PACKAGE = path.join(ROOT, 'dist', `kernscope-${VERSION}-linux-${process.arch}.tgz`);
/** mmdebstrap's output, kept between runs (it takes a download). */
const ROOTFS_TAR = path.join(ROOT, '.cache', 'rootfs-bookworm-minbase.tar');
const INSTALLED = '/usr/local/lib/node_modules/kernscope';
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

interface Chroot {
  /** Runs the command without a network (no interface but a down loopback). */
  offline?: boolean;
  /** An empty tmpfs over /sys/kernel/btf: a kernel without BTF, as far as libbpf can tell. */
  hideBtf?: boolean;
  /** `chroot --userspec`. */
  user?: string;
}

/** The argv that runs `command` inside `root`, its mounts private to that one process. */
function chrooted(root: string, command: string[], { offline, hideBtf, user }: Chroot = {}): string[] {
  const script = [
    'set -e',
    'r=$1; shift',
    'mount -t proc proc "$r/proc"',
    'mount --rbind /sys "$r/sys"',
    'mount --rbind /dev "$r/dev"',
    ...(hideBtf ? ['mount -t tmpfs none "$r/sys/kernel/btf"'] : []),
    // A login's environment, not this test's (npm_config_* from npx, NODE_EXTRA_CA_CERTS).
    `exec chroot ${user ? `--userspec=${user} ` : ''}"$r" /usr/bin/env -i PATH=${PATH} HOME=/root "$@"`,
  ].join('\n');
  return [
    '--mount',
    '--propagation',
    'private',
    ...(offline ? ['--net'] : []),
    'sh',
    '-c',
    script,
    'sh',
    root,
    ...command,
  ];
}

function inRoot(root: string, command: string[], options: Chroot & { timeoutMs?: number } = {}): Promise<RunResult> {
  return run('unshare', chrooted(root, command, options), { timeoutMs: options.timeoutMs ?? 30000 });
}

function spawnInRoot(root: string, command: string[]): ChildProcessByStdio<null, Readable, Readable> {
  return spawnClean('unshare', chrooted(root, command));
}

async function rootfsTar(): Promise<string> {
  if (existsSync(ROOTFS_TAR)) return ROOTFS_TAR;
  mkdirSync(path.dirname(ROOTFS_TAR), { recursive: true });
  const partial = `${ROOTFS_TAR}.partial`;
  const made = await run('mmdebstrap', ['--quiet', '--variant=minbase', '--format=tar', 'bookworm', partial], {
    timeoutMs: 600000,
  });
  if (made.code !== 0) throw new Error(`mmdebstrap: ${made.stderr}`);
  renameSync(partial, ROOTFS_TAR);
  return ROOTFS_TAR;
}

/** A fresh minbase root with Node.js and npm in /usr/local, as a user would copy them from nodejs.org. */
async function minimalHost(): Promise<string> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'kernscope-host-'));
  const unpacked = await run('tar', ['-xf', await rootfsTar(), '-C', root], { timeoutMs: 120000 });
  if (unpacked.code !== 0) throw new Error(`tar: ${unpacked.stderr}`);
  cpSync(process.execPath, path.join(root, 'usr/local/bin/node'));
  const npm = path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm');
  cpSync(npm, path.join(root, 'usr/local/lib/node_modules/npm'), { recursive: true });
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(root, 'usr/local/bin/npm'));
  cpSync(PACKAGE, path.join(root, 'tmp', path.basename(PACKAGE)));
  return root;
}

t.setTimeout(600000);

void t.test('the package on a minimal Debian host', async (t) => {
  t.ok(existsSync(PACKAGE), `${path.relative(ROOT, PACKAGE)} was built (make package)`);
  const root = await minimalHost();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));

  await t.test('the host has no compiler, build tool, python or libbpf', async (t) => {
    const tools = ['cc', 'gcc', 'g++', 'clang', 'make', 'python3', 'node-gyp'];
    const found = await inRoot(root, ['sh', '-c', `for c in ${tools.join(' ')}; do command -v $c; done; true`]);
    t.equal(found.stdout, '', `none of ${tools.join(', ')}`);
    const libbpf = await inRoot(root, ['sh', '-c', 'ldconfig -p | grep -E "libbpf|libelf" || true']);
    t.equal(libbpf.stdout, '', 'no libbpf or libelf in the system library path');
  });

  await t.test('npm install -g FILE, with no network', async (t) => {
    const started = Date.now();
    const install = await inRoot(root, ['npm', 'install', '-g', `/tmp/${path.basename(PACKAGE)}`], {
      offline: true,
      timeoutMs: 120000,
    });
    t.equal(install.code, 0, `installed: ${install.stderr}`);
    t.comment(`installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const ldd = await inRoot(root, ['ldd', `${INSTALLED}/build/Release/kernscope.node`]);
    t.notMatch(ldd.stdout, /not found/, 'every library the addon needs resolves');
    for (const lib of ['libbpf.so.1', 'libelf.so.1']) {
      t.match(ldd.stdout, `${lib} => ${INSTALLED}/build/Release/${lib}`, `${lib} from the package`);
    }
    const help = await inRoot(root, ['kernscope', '--help']);
    t.match(help.stdout, /^Usage: kernscope <command>/, 'the kernscope command is on PATH');
  });

  await t.test('probes --json tells this kernel apart', async (t) => {
    const probes = await inRoot(root, ['kernscope', 'probes', '--json']);
    t.equal(probes.code, 0, probes.stderr);
    const report = JSON.parse(probes.stdout) as {
      features: { btf: boolean };
      probes: { probe: string; supported: boolean }[];
    };
    t.equal(report.features.btf, true, 'BTF found through the bind-mounted /sys');
    const supported = report.probes.filter((p) => p.supported).map((p) => p.probe);
    t.ok(report.probes.length >= 7, `${report.probes.length} probes listed`);
    t.same(supported.sort(), report.probes.map((p) => p.probe).sort(), 'every probe loads from the package here');
  });

  await t.test('trace exec --duration 3: exactly the workload execs; nothing left', async (t) => {
    const cgroup = createCgroup(t);
    const tracer = spawnInRoot(root, ['kernscope', 'trace', 'exec', '--json', '--cgroup', cgroup, '--duration', '3']);
    t.teardown(() => void tracer.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    tracer.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    tracer.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    await waitFor('trace to start', () => (/tracing /.test(stderr) ? true : undefined), { timeoutMs: 20000 });
    const ids = bpfIdsOf(tracer.pid!);
    t.ok(ids.progIds.length > 0, 'the tracer holds its program');
    await execsIn(cgroup, 25);
    t.same(await waitExit(tracer, 10000), { code: 0, signal: null }, '--duration ends it, exit 0');
    const events = lines(stdout).map((line) => JSON.parse(line) as Record<string, unknown>);
    t.equal(events.length, 25, 'one event per exec, no other');
    t.ok(
      events.every((e) => e.comm === 'true' && e.filename === '/bin/true'),
      'each is the workload exec',
    );
    t.match(stderr, /exec: 25 events, 0 lost/, 'the summary');
    t.same(
      await waitGone(ids.progIds, ids.linkIds, 2500, ids.mapIds),
      { progs: [], links: [], maps: [] },
      'nothing left',
    );
  });

  await t.test('stats runqueue prints a histogram', async (t) => {
    const stats = await inRoot(root, ['kernscope', 'stats', 'runqueue', '--interval', '1', '--count', '1']);
    t.equal(stats.code, 0, stats.stderr);
    t.match(stats.stdout, /count/, 'a log2 table with its count');
  });

  await t.test('run: every probe up, /metrics served, SIGTERM leaves nothing', async (t) => {
    const port = await freePort();
    const agent = spawnInRoot(root, ['kernscope', 'run', '--listen', `127.0.0.1:${port}`]);
    t.teardown(() => void agent.kill('SIGKILL'));
    let log = '';
    agent.stderr.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
    const body = await waitFor(
      '/metrics of the installed agent',
      async () => {
        if (agent.exitCode !== null) throw new Error(`agent exited ${agent.exitCode}: ${log}`);
        const response = await httpGet(port, '/metrics').catch(() => undefined);
        return response?.status === 200 ? response.body : undefined;
      },
      { timeoutMs: 30000 },
    );
    const samples = parseMetrics(body);
    t.equal(select(samples, 'kernscope_build_info')[0]?.labels.version, VERSION, 'reads its package.json');
    const probes = select(samples, 'kernscope_probe_up');
    t.ok(probes.length > 0, `${probes.length} probes reported`);
    for (const probe of probes) t.equal(probe.value, 1, `${probe.labels.probe} up`);
    const ids = bpfIdsOf(agent.pid!);
    agent.kill('SIGTERM');
    t.same(await waitExit(agent, 10000), { code: 0, signal: null }, 'SIGTERM: exit 0');
    t.same(
      await waitGone(ids.progIds, ids.linkIds, 2500, ids.mapIds),
      { progs: [], links: [], maps: [] },
      'nothing left',
    );
  });

  await t.test('a bad environment is one line', async (t) => {
    const noBtf = await inRoot(root, ['kernscope', 'trace', 'exec', '--duration', '1'], { hideBtf: true });
    t.equal(noBtf.code, 1, 'no BTF: exit 1');
    t.match(
      noBtf.stderr,
      /^kernscope: this kernel has no BTF \(\/sys\/kernel\/btf\/vmlinux is missing\).*CONFIG_DEBUG_INFO_BTF=y.*\n$/,
    );

    const nobody = await inRoot(root, ['kernscope', 'trace', 'exec', '--duration', '1'], { user: '65534:65534' });
    t.equal(nobody.code, 1, 'no privileges: exit 1');
    t.match(nobody.stderr, /^kernscope: kernscope is missing CAP_BPF .*run it as root.*\n$/);

    // A copy of the installed package whose addon is not a shared object (as for another CPU).
    const broken = path.join(root, 'tmp', 'broken');
    cpSync(path.join(root, INSTALLED.slice(1)), broken, { recursive: true, verbatimSymlinks: true });
    writeFileSync(path.join(broken, 'build/Release/kernscope.node'), 'not an ELF file\n');
    chmodSync(path.join(broken, 'dist/src/cli/main.js'), 0o755);
    const unloadable = await inRoot(root, ['node', '/tmp/broken/dist/src/cli/main.js', 'probes']);
    t.equal(unloadable.code, 1, 'an addon that does not load: exit 1');
    t.match(
      unloadable.stderr,
      /^kernscope: cannot load the addon \/tmp\/broken\/build\/Release\/kernscope\.node on linux-x64: .*: install the package built for this platform, or build from source \(make\)\n$/,
    );
  });
});
