// What this host must offer before kernscope loads anything: the checks that
// turn a missing Node.js feature, another OS or a kernel without BTF into one
// line instead of a stack trace from deep inside a load.
import { existsSync } from 'node:fs';

/** Oldest Node.js major kernscope runs on (package.json `engines`). */
export const MIN_NODE_MAJOR = 20;

/** Where libbpf finds the running kernel's BTF, which every CO-RE object needs to load. */
export const KERNEL_BTF = '/sys/kernel/btf/vmlinux';

/** One line saying why kernscope cannot run on this Node.js and OS, or undefined when it can. */
export function unsupportedHost(
  nodeVersion = process.versions.node,
  platform: string = process.platform,
): string | undefined {
  if (platform !== 'linux') return `kernscope runs on Linux only (this is ${platform})`;
  const major = Number(nodeVersion.split('.')[0]);
  if (!(major >= MIN_NODE_MAJOR)) {
    return `kernscope needs Node.js ${MIN_NODE_MAJOR} or newer (this is ${nodeVersion}): install a current Node.js`;
  }
  return undefined;
}

/** One line saying the kernel has no BTF, or undefined when it has. */
export function missingKernelBtf(file = KERNEL_BTF): string | undefined {
  if (existsSync(file)) return undefined;
  return `this kernel has no BTF (${file} is missing), which kernscope's CO-RE probes need: boot a kernel built with CONFIG_DEBUG_INFO_BTF=y (Linux 5.8+ distribution kernels have it)`;
}
