// ebpf_exporter's label decoders: a label's key bytes pass through its
// decoders in order, each taking the one before's output (bytes first, then
// text), the last one's text being the label value. A decoder returning
// undefined drops the sample (only `regexp`, on no match, as there). Names,
// inputs and outputs follow ebpf_exporter's decoder package, so existing
// configs label their series the same way.
import { constants } from 'node:os';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

import { cgroup2Mount } from '../kernel/cgroup';
import { CgroupPaths } from '../enrich/CgroupPaths';
import { ipv6 } from '../probes/addresses';
import { SYSCALL_NAMES } from '../probes/syscallNames';
import { Kallsyms } from './kallsyms';
import type { PciIds } from './pciIds';
import { PCI_IDS_FILES, systemPciIds } from './pciIds';

export type DecoderInput = Uint8Array | string;
export type Decode = (input: DecoderInput) => string | undefined;

/** A decoder as the YAML writes it. */
export interface DecoderConfig {
  name: string;
  static_map?: Record<string, string>;
  regexps?: string[];
  allow_unknown?: boolean;
}

/** Why a decoder cannot run as configured (the message names the fix), thrown while building. */
export class DecoderProblem extends Error {}

const bytesOf = (input: DecoderInput): Uint8Array => (typeof input === 'string' ? Buffer.from(input, 'latin1') : input);
const textOf = (input: DecoderInput): string =>
  typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
const view = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** What a decoder reads from the system, shared by every label and read when first needed. */
const system = {
  kallsyms: new Kallsyms(),
  cgroups: undefined as { mount: string; paths: CgroupPaths } | undefined,
};

function cgroupPaths(): { mount: string; paths: CgroupPaths } | undefined {
  if (system.cgroups) return system.cgroups;
  const mount = cgroup2Mount();
  if (mount) system.cgroups = { mount, paths: new CgroupPaths(mount) };
  return system.cgroups;
}

/** A table read from the system, read again when a lookup misses, at most once in `everyMs`. */
function rereadOnMiss<K, V>(read: () => Map<K, V>, everyMs = 1000): (key: K) => V | undefined {
  let table = new Map<K, V>();
  let readAt = -Infinity;
  return (key) => {
    const found = table.get(key);
    if (found !== undefined || Date.now() - readAt < everyMs) return found;
    try {
      table = read();
    } catch {
      table = new Map();
    }
    readAt = Date.now();
    return table.get(key);
  };
}

/** /proc/partitions: `major:minor` -> device name. */
const partitionName = rereadOnMiss(() => {
  const names = new Map<string, string>();
  for (const line of readFileSync('/proc/partitions', 'utf8').split('\n')) {
    const [major, minor, , name] = line.trim().split(/\s+/);
    if (name && /^\d+$/.test(major) && /^\d+$/.test(minor)) names.set(`${major}:${minor}`, name);
  }
  return names;
});

/** /sys/class/net: ifindex -> interface name (of this network namespace). */
const interfaceName = rereadOnMiss(() => {
  const names = new Map<number, string>();
  for (const name of readdirSync('/sys/class/net')) {
    const index = Number(readFileSync(path.join('/sys/class/net', name, 'ifindex'), 'utf8'));
    if (Number.isInteger(index)) names.set(index, name);
  }
  return names;
});

const errnoNames = new Map<number, string>(
  Object.entries(constants.errno)
    .filter(([name]) => name !== 'EWOULDBLOCK' && name !== 'EDEADLOCK')
    .map(([name, number]) => [number, name]),
);

/** A decimal integer's value, or a DecoderProblem-free undefined when the text is not one. */
function decimal(input: DecoderInput): number | undefined {
  const text = textOf(input);
  return /^\d+$/.test(text) ? Number(text) : undefined;
}

function uint(input: DecoderInput): string {
  const bytes = bytesOf(input);
  const data = view(bytes);
  switch (bytes.length) {
    case 1:
      return String(data.getUint8(0));
    case 2:
      return String(data.getUint16(0, true));
    case 4:
      return String(data.getUint32(0, true));
    case 8:
      return data.getBigUint64(0, true).toString();
    default:
      return `?${Buffer.from(bytes).toString('hex')}`;
  }
}

/** DNS wire format (length-prefixed labels) as a dotted name; anything malformed unchanged. */
function dname(input: DecoderInput): string {
  const bytes = bytesOf(input);
  const labels: string[] = [];
  let at = 0;
  while (at < bytes.length && bytes[at] !== 0) {
    const length = bytes[at];
    if (at + 1 + length > bytes.length) return textOf(input);
    labels.push(Buffer.from(bytes.subarray(at + 1, at + 1 + length)).toString('latin1'));
    at += 1 + length;
  }
  return labels.length ? labels.join('.') : '.';
}

function ip(input: DecoderInput): string {
  const bytes = bytesOf(input);
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length === 16) {
    const text = ipv6(bytes);
    return text.startsWith('::ffff:') && text.includes('.') ? text.slice('::ffff:'.length) : text;
  }
  return `?${Buffer.from(bytes).toString('hex')}`;
}

/** `new_encode_dev()`'s u32, as block tracepoints and most BPF code see dev_t. */
function majorminor(input: DecoderInput): string {
  const dev = view(bytesOf(input)).getUint32(0, true);
  const major = (dev >>> 8) & 0xfff;
  const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
  return partitionName(`${major}:${minor}`) ?? `unknown:${major}:${minor}`;
}

function kstack(input: DecoderInput): string {
  const data = view(bytesOf(input));
  const frames: string[] = [];
  for (let at = 0; at + 8 <= data.byteLength; at += 8) {
    const address = data.getBigUint64(at, true);
    if (address === 0n) break;
    frames.push(system.kallsyms.containing(address)?.split('\t')[0] ?? '??');
  }
  return frames.join('\n');
}

function cgroup(input: DecoderInput): string {
  const id = textOf(input);
  const paths = cgroupPaths();
  const below = /^\d+$/.test(id) ? paths?.paths.pathOf(BigInt(id)) : undefined;
  if (below === undefined || !paths) return `unknown_cgroup_id:${id}`;
  return below === '/' ? paths.mount : path.posix.join(paths.mount, below);
}

function staticMap(config: DecoderConfig): Decode {
  const map = config.static_map;
  if (!map) throw new DecoderProblem('static_map needs a `static_map:` mapping of value to label');
  return (input) => {
    const text = textOf(input);
    return map[text] ?? (config.allow_unknown ? text : `unknown:${text}`);
  };
}

/** The first pattern that matches: its one capture group, or the whole match when it has none. */
function regexps(config: DecoderConfig): Decode {
  if (!config.regexps?.length) throw new DecoderProblem('regexp needs a non-empty `regexps:` list');
  const patterns = config.regexps.map((source) => {
    try {
      return new RegExp(source);
    } catch (error) {
      throw new DecoderProblem(`regexp ${JSON.stringify(source)} does not compile: ${(error as Error).message}`);
    }
  });
  return (input) => {
    const text = textOf(input);
    for (const pattern of patterns) {
      const match = pattern.exec(text);
      if (!match) continue;
      if (match.length === 1) return match[0];
      if (match.length === 2) return match[1] ?? '';
    }
    return undefined;
  };
}

/** A pci_* decoder: the name of the number the decoders before it wrote, from the system's pci.ids. */
function pci(kind: keyof PciIds, what: string, hex: (n: number) => string): () => Decode {
  return () => {
    const ids = systemPciIds();
    if (!ids) {
      throw new DecoderProblem(
        `pci_* decoders need pci.ids (${PCI_IDS_FILES.join(' or ')}): install the pci.ids package, or label the number with uint`,
      );
    }
    return (input) => {
      const n = decimal(input);
      return (n !== undefined && ids[kind].get(n)) || `unknown pci ${what}: 0x${hex(n ?? 0)}`;
    };
  };
}

const hex = (digits: number) => (n: number) => n.toString(16).padStart(digits, '0');

/** A decoder: how to build it from its config and, first in a chain, which label sizes it can read. */
interface DecoderKind {
  build: (config: DecoderConfig) => Decode;
  size?: { fits: (bytes: number) => boolean; accepted: string };
  /** Reads a number's decimal text (ebpf_exporter's convention): a decoder such as uint must come first. */
  text?: boolean;
  /** Looks its input up in a table of the system, which may know it later: see ByteLabel.lookup. */
  lookup?: boolean;
}

const atLeast = (n: number) => ({ fits: (bytes: number) => bytes >= n, accepted: `at least ${n}` });

/** The decoders by name. */
export const DECODERS: Record<string, DecoderKind> = {
  uint: { build: () => uint, size: { fits: (n) => [1, 2, 4, 8].includes(n), accepted: '1, 2, 4 or 8' } },
  string: { build: () => (input) => textOf(bytesOf(input)).split('\0')[0] },
  hex: { build: () => (input) => Buffer.from(bytesOf(input)).toString('hex') },
  static_map: { build: staticMap },
  regexp: { build: regexps },
  ksym: {
    size: atLeast(8),
    build: () => {
      system.kallsyms.preload(); // while the agent may still read kernel addresses (CAP_SYSLOG)
      return (input) => {
        const address = view(bytesOf(input)).getBigUint64(0, true);
        return system.kallsyms.exact(address) ?? `unknown_addr:0x${address.toString(16)}`;
      };
    },
  },
  kstack: {
    build: () => {
      system.kallsyms.preload();
      return kstack;
    },
    size: { fits: (n) => n > 0 && n % 8 === 0, accepted: 'a multiple of 8' },
  },
  syscall: {
    text: true,
    build: () => {
      const names = SYSCALL_NAMES[process.arch] ?? [];
      return (input) => {
        const n = decimal(input);
        return (n !== undefined && names[n]) || `unknown_syscall:${textOf(input)}`;
      };
    },
  },
  errno: {
    text: true,
    build: () => (input) => {
      const n = decimal(input);
      return (n !== undefined && errnoNames.get(n)) || `unknown:${textOf(input)}`;
    },
  },
  majorminor: { build: () => majorminor, size: atLeast(4), lookup: true },
  inet_ip: { build: () => ip },
  cgroup: { build: () => cgroup, text: true, lookup: true },
  dname: { build: () => dname },
  ifname: {
    size: atLeast(4),
    build: () => (input) => {
      const index = view(bytesOf(input)).getUint32(0, true);
      return interfaceName(index) ?? `unknown:${index}`;
    },
  },
  pci_vendor: { text: true, build: pci('vendors', 'vendor', hex(4)) },
  pci_device: { text: true, build: pci('devices', 'device', hex(8)) },
  pci_class: { text: true, build: pci('classes', 'class', hex(2)) },
  pci_subclass: { text: true, build: pci('subclasses', 'subclass', hex(4)) },
};

/** The label's decoders as one function of its key bytes. */
export function chain(decoders: Decode[]): (bytes: Uint8Array) => string | undefined {
  return (bytes) => {
    let value: DecoderInput = bytes;
    for (const decode of decoders) {
      const next = decode(value);
      if (next === undefined) return undefined;
      value = next;
    }
    return textOf(value);
  };
}
