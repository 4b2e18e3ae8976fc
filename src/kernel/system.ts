// Facts about this host that metrics and logs report.
import { readFileSync } from 'node:fs';
import os from 'node:os';

import { PACKAGE_ROOT, addon } from '../native/addon';

export interface BuildInfo {
  version: string;
  libbpf: string;
  /** Node.js (not `node`: that label names the Kubernetes node where scrapes add it). */
  nodejs: string;
  kernel: string;
}

export function buildInfo(): BuildInfo {
  const pkg = JSON.parse(readFileSync(`${PACKAGE_ROOT}/package.json`, 'utf8')) as { version: string };
  return { version: pkg.version, libbpf: addon.libbpfVersion(), nodejs: process.versions.node, kernel: os.release() };
}
