// deploy/Dockerfile, read as text (there is no Docker here to build it): the
// build stage installs only build packages the Makefile names; the runtime
// stage builds nothing, installs no compiler or -dev package, and installs
// the package of every shared library the addon needs beyond those Node.js
// itself links (ldd and dpkg on this Debian 12 host, the image's release).
// The files it copies from the build stage, laid out as the image lays them
// out (from this checkout's build), run the agent with the image's command.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import t from 'tap';

import { parseMetrics, select } from '../helpers/metrics';
import { freePort, httpGet } from '../helpers/net';
import { ROOT } from '../helpers/paths';
import { run, spawnClean } from '../helpers/process';
import { waitFor } from '../helpers/teardown';

interface Stage {
  from: string;
  /** Instructions after FROM, continuation lines joined. */
  instructions: string[];
}

function stages(dockerfile: string): Stage[] {
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const result: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.startsWith('FROM ')) result.push({ from: instruction.slice('FROM '.length), instructions: [] });
    else result.at(-1)!.instructions.push(instruction);
  }
  return result;
}

/** Packages named by `apt-get install` in the stage's RUN instructions. */
function aptPackages(stage: Stage): string[] {
  return stage.instructions.flatMap((instruction) =>
    [...instruction.matchAll(/apt-get install ([^&;]*)/g)].flatMap((m) =>
      m[1].split(/\s+/).filter((word) => word !== '' && !word.startsWith('-')),
    ),
  );
}

function argument(stage: Stage, instruction: string): string {
  const found = stage.instructions.filter((i) => i.startsWith(`${instruction} `));
  if (found.length !== 1) throw new Error(`${found.length} ${instruction} instructions in the stage`);
  return found[0].slice(instruction.length + 1);
}

/** Debian packages owning the shared libraries `file` loads. */
async function libraryPackages(file: string): Promise<Set<string>> {
  const ldd = await run('ldd', [file]);
  const libraries = [...ldd.stdout.matchAll(/=> (\S+)/g)].map((m) => path.basename(m[1]));
  const dpkg = await run('dpkg', ['-S', ...libraries.map((lib) => `*/${lib}`)]);
  if (dpkg.code !== 0) throw new Error(`dpkg -S: ${dpkg.stderr}`);
  return new Set([...dpkg.stdout.matchAll(/^([^:\s]+)(?::\w+)?: /gm)].map((m) => m[1]));
}

const MAKEFILE_PACKAGES = (
  /^APT_PACKAGES := ([^\n\\]*(?:\\\n[^\n\\]*)*)/m.exec(readFileSync(path.join(ROOT, 'Makefile'), 'utf8'))?.[1] ?? ''
)
  .replace(/\\\n/g, ' ')
  .split(/\s+/)
  .filter(Boolean);

const [build, runtime] = stages(readFileSync(path.join(ROOT, 'deploy', 'Dockerfile'), 'utf8'));

void t.test('two stages: node 20 bookworm to build, its slim variant to run', (t) => {
  t.match(build.from, /^node:20-bookworm AS (\w+)$/);
  t.equal(runtime.from, 'node:20-bookworm-slim');
  t.end();
});

void t.test('the build stage installs only build packages the Makefile names', (t) => {
  const packages = aptPackages(build);
  t.ok(packages.length > 0, `installs ${packages.join(' ')}`);
  for (const pkg of packages) t.ok(MAKEFILE_PACKAGES.includes(pkg), `${pkg} is in the Makefile's APT_PACKAGES`);
  for (const tool of ['prometheus', 'bpftrace', 'libbpf-tools'])
    t.notOk(packages.includes(tool), `no test tool ${tool}`);
  t.end();
});

void t.test('the runtime stage builds nothing and carries the libraries the addon loads', async (t) => {
  const packages = aptPackages(runtime);
  const buildPackages = aptPackages(build);
  for (const pkg of packages) {
    t.notOk(buildPackages.includes(pkg), `${pkg} is not a build package`);
    t.notMatch(pkg, /-dev$|^(clang|llvm|gcc|g\+\+|cpp|make|python3)\b/, `${pkg} is no compiler or header package`);
  }
  for (const instruction of runtime.instructions.filter((i) => i.startsWith('RUN '))) {
    t.notMatch(instruction, /\b(npm|npx|node-gyp|make|tsc|clang)\b/, `no build step: ${instruction}`);
  }
  const node = await libraryPackages(process.execPath);
  const addon = await libraryPackages(path.join(ROOT, 'build', 'Release', 'kernscope.node'));
  const needed = [...addon].filter((pkg) => !node.has(pkg));
  t.ok(needed.length > 0, `the addon needs ${needed.join(' ')} beyond Node.js`);
  for (const pkg of needed) t.ok(packages.includes(pkg), `installs ${pkg}`);
});

void t.test('what the runtime stage copies runs the agent with the image command', async (t) => {
  const buildDir = argument(build, 'WORKDIR');
  const appDir = argument(runtime, 'WORKDIR');
  const image = mkdtempSync(path.join(os.tmpdir(), 'kernscope-image-'));
  t.teardown(() => rmSync(image, { recursive: true, force: true }));
  const copies = runtime.instructions.filter((i) => i.startsWith('COPY '));
  t.ok(copies.length > 0, 'copies from the build stage');
  for (const copy of copies) {
    const [, from, source, target] = /^COPY --from=(\w+) (\S+) (\S+)$/.exec(copy) ?? [];
    t.equal(from, /AS (\w+)$/.exec(build.from)?.[1], `${copy}: from the build stage`);
    const local = path.join(ROOT, path.relative(buildDir, source));
    t.ok(existsSync(local), `${source} is part of the build (${local})`);
    const destination = path.resolve(image, target);
    if (path.basename(local) === 'node_modules') {
      symlinkSync(local, destination); // too big to copy, and its content is not under test
    } else if (source.endsWith('/')) {
      cpSync(local, destination, { recursive: true });
    } else {
      mkdirSync(target.endsWith('/') ? destination : path.dirname(destination), { recursive: true });
      cpSync(local, target.endsWith('/') ? path.join(destination, path.basename(local)) : destination);
    }
  }

  const entrypoint = JSON.parse(argument(runtime, 'ENTRYPOINT')) as string[];
  const cmd = JSON.parse(argument(runtime, 'CMD')) as string[];
  t.equal(entrypoint[0], 'node', 'Node.js runs it');
  t.same(cmd, ['run'], 'kernscope run by default');
  const args = [...entrypoint.slice(1), ...cmd].map((arg) =>
    arg.startsWith(`${appDir}/`) ? path.join(image, path.relative(appDir, arg)) : arg,
  );
  const port = await freePort();
  const agent = spawnClean(process.execPath, [...args, '--listen', `127.0.0.1:${port}`]);
  let log = '';
  agent.stderr.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  t.teardown(() => agent.exitCode === null && agent.kill('SIGKILL'));
  const body = await waitFor(
    '/metrics of the agent from the image layout',
    async () => {
      if (agent.exitCode !== null) throw new Error(`agent exited ${agent.exitCode}: ${log}`);
      const response = await httpGet(port, '/metrics').catch(() => undefined);
      return response?.status === 200 ? response.body : undefined;
    },
    { timeoutMs: 30000 },
  ).catch((error: Error) => {
    throw new Error(`${error.message}; the agent said:\n${log}`);
  });
  const samples = parseMetrics(body);
  const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  t.equal(select(samples, 'kernscope_build_info')[0]?.labels.version, version, 'reads its package.json');
  const probes = select(samples, 'kernscope_probe_up');
  t.ok(probes.length > 0, 'probes reported');
  for (const probe of probes) t.equal(probe.value, 1, `${probe.labels.probe} up (its BPF object is in the image)`);
});
