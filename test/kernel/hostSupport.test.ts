// The host checks that come before any load: Node.js version and OS, and the
// kernel's BTF. (The whole command under these conditions: test/deploy/hostPackage.test.ts.)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import t from 'tap';

import { KERNEL_BTF, MIN_NODE_MAJOR, missingKernelBtf, unsupportedHost } from '../../src/kernel/hostSupport';

void t.test('Node.js 20 and newer on Linux pass; older or another OS is one line', (t) => {
  t.equal(unsupportedHost('20.0.0', 'linux'), undefined);
  t.equal(unsupportedHost('24.1.0', 'linux'), undefined);
  t.equal(unsupportedHost(process.versions.node, process.platform), undefined, 'this host');
  t.equal(
    unsupportedHost('18.19.1', 'linux'),
    `kernscope needs Node.js ${MIN_NODE_MAJOR} or newer (this is 18.19.1): install a current Node.js`,
  );
  t.match(unsupportedHost('garbage', 'linux'), /needs Node\.js 20 or newer \(this is garbage\)/);
  t.equal(unsupportedHost('22.0.0', 'darwin'), 'kernscope runs on Linux only (this is darwin)');
  t.end();
});

void t.test('kernel BTF: present passes, missing names the file and the kernel option', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kernscope-btf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'vmlinux');
  t.match(missingKernelBtf(file), `this kernel has no BTF (${file} is missing)`);
  t.match(missingKernelBtf(file), /CONFIG_DEBUG_INFO_BTF=y/);
  writeFileSync(file, '');
  t.equal(missingKernelBtf(file), undefined);
  t.equal(missingKernelBtf(), undefined, `this kernel has ${KERNEL_BTF}`);
  t.end();
});
