// deploy/Dockerfile, read as text (there is no Docker here to build it): the
// build stage installs only build packages the Makefile names and ends with the
// script that makes the host package; the runtime stage installs that package
// with npm and nothing else. That the package runs on a bare Debian with only
// Node.js: test/deploy/hostPackage.test.ts.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import t from 'tap';

import { ROOT } from '../helpers/paths';

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

void t.test('the runtime stage installs the package and builds nothing', (t) => {
  t.same(aptPackages(runtime), [], 'no Debian package: the addon carries its libbpf and libelf');
  const [, from, source] = /^--from=(\w+) (\S+) \/tmp\/$/.exec(argument(runtime, 'COPY')) ?? [];
  t.equal(from, /AS (\w+)$/.exec(build.from)?.[1], 'copies from the build stage');
  const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const packageFile = `kernscope-${version}-linux-x64.tgz`;
  t.equal(source, path.join(argument(build, 'WORKDIR'), 'dist', packageFile), 'the file scripts/package writes');
  t.ok(existsSync(path.join(ROOT, 'dist', packageFile)), 'which make package built here');
  t.match(
    build.instructions.filter((i) => i.startsWith('RUN ')).at(-1),
    /scripts\/package$/,
    'the build stage ends with scripts/package',
  );
  const runs = runtime.instructions.filter((i) => i.startsWith('RUN '));
  t.same(runs, [`RUN npm install -g /tmp/${packageFile} && rm /tmp/${packageFile}`], 'one step: npm install -g FILE');
  const bin = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> })
    .bin;
  t.same(JSON.parse(argument(runtime, 'ENTRYPOINT')), Object.keys(bin), 'runs the command the package installs');
  t.same(JSON.parse(argument(runtime, 'CMD')), ['run'], 'kernscope run by default');
  t.end();
});
