// ebpf_exporter's decoders over byte tables: what each makes of its input,
// chained as a label's decoders are, and which ones drop a sample.
import { readFileSync, readdirSync, statSync } from 'node:fs';

import t from 'tap';

import { cgroup2Mount } from '../../src/kernel/cgroup';
import { DECODERS, chain } from '../../src/userprobes/decoders';
import type { DecoderConfig } from '../../src/userprobes/decoders';
import { Kallsyms } from '../../src/userprobes/kallsyms';
import { parsePciIds, systemPciIds } from '../../src/userprobes/pciIds';
import { createCgroup } from '../helpers/cgroup';

const le = (bits: 16 | 32 | 64, value: bigint | number): Uint8Array => {
  const bytes = new Uint8Array(bits / 8);
  const view = new DataView(bytes.buffer);
  if (bits === 16) view.setUint16(0, Number(value), true);
  else if (bits === 32) view.setUint32(0, Number(value), true);
  else view.setBigUint64(0, BigInt(value), true);
  return bytes;
};

/** The label value `bytes` get through `decoders` (by name, or with their config). */
function decode(bytes: Uint8Array, ...decoders: (string | DecoderConfig)[]): string | undefined {
  const configs = decoders.map((d) => (typeof d === 'string' ? { name: d } : d));
  return chain(configs.map((config) => DECODERS[config.name].build(config)))(bytes);
}

void t.test('uint, string, hex', (t) => {
  t.equal(decode(Uint8Array.of(200), 'uint'), '200');
  t.equal(decode(le(16, 443), 'uint'), '443');
  t.equal(decode(le(32, 4000000000), 'uint'), '4000000000');
  t.equal(decode(le(64, 2n ** 64n - 1n), 'uint'), '18446744073709551615', 'u64 exactly, beyond 2^53');
  t.equal(decode(Buffer.from('nginx\0\0garbage'), 'string'), 'nginx', 'up to the first NUL');
  t.equal(decode(Uint8Array.of(0xde, 0xad, 0x0b), 'hex'), 'dead0b');
  t.end();
});

void t.test('static_map: mapped, unknown, or passed through with allow_unknown', (t) => {
  const map = { 0: 'read', 1: 'write' };
  t.equal(decode(le(32, 1), 'uint', { name: 'static_map', static_map: map }), 'write');
  t.equal(decode(le(32, 7), 'uint', { name: 'static_map', static_map: map }), 'unknown:7');
  t.equal(decode(le(32, 7), 'uint', { name: 'static_map', static_map: map, allow_unknown: true }), '7');
  t.end();
});

void t.test('regexp: the first match, its one group or the whole match; no match drops the sample', (t) => {
  const config = { name: 'regexp', regexps: ['^kworker/(\\d+)', '^nginx$'] };
  t.equal(decode(Buffer.from('kworker/3:1\0'), 'string', config), '3', 'the capture group');
  t.equal(decode(Buffer.from('nginx\0'), 'string', config), 'nginx', 'the whole match');
  t.equal(decode(Buffer.from('bash\0'), 'string', config), undefined, 'dropped');
  t.throws(() => DECODERS.regexp.build({ name: 'regexp' }), /non-empty `regexps:`/);
  t.throws(() => DECODERS.regexp.build({ name: 'regexp', regexps: ['('] }), /does not compile/);
  t.end();
});

void t.test('syscall and errno names from the number the uint before them wrote', (t) => {
  if (process.arch === 'x64') {
    t.equal(decode(le(64, 0), 'uint', 'syscall'), 'read');
    t.equal(decode(le(64, 84), 'uint', 'syscall'), 'rmdir');
  }
  t.equal(decode(le(64, 100000), 'uint', 'syscall'), 'unknown_syscall:100000');
  t.equal(decode(le(32, 2), 'uint', 'errno'), 'ENOENT');
  t.equal(decode(le(32, 39), 'uint', 'errno'), 'ENOTEMPTY');
  t.equal(decode(le(32, 0), 'uint', 'errno'), 'unknown:0');
  t.end();
});

void t.test('inet_ip: IPv4, IPv6 (RFC 5952), IPv4-mapped as IPv4, other lengths as hex', (t) => {
  t.equal(decode(Uint8Array.of(10, 0, 0, 1), 'inet_ip'), '10.0.0.1');
  const v6 = new Uint8Array(16);
  v6.set([0x20, 0x01, 0x0d, 0xb8]);
  v6[15] = 1;
  t.equal(decode(v6, 'inet_ip'), '2001:db8::1');
  const mapped = new Uint8Array(16);
  mapped.set([0xff, 0xff, 127, 0, 0, 1], 10);
  t.equal(decode(mapped, 'inet_ip'), '127.0.0.1');
  t.equal(decode(Uint8Array.of(1, 2), 'inet_ip'), '?0102');
  t.end();
});

void t.test('dname: DNS wire format as a dotted name', (t) => {
  t.equal(decode(Buffer.from('\x07example\x03com\x00'), 'dname'), 'example.com');
  t.equal(decode(Uint8Array.of(0), 'dname'), '.');
  t.equal(decode(Buffer.from('\x09short'), 'dname'), '\x09short', 'malformed: unchanged');
  t.end();
});

void t.test('majorminor: new_encode_dev numbers named from /proc/partitions', (t) => {
  const line = readFileSync('/proc/partitions', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((f) => /^\d+$/.test(f[0] ?? '') && f[3]);
  if (!line) {
    t.comment('no partitions to name');
    t.end();
    return;
  }
  const [major, minor] = [Number(line[0]), Number(line[1])];
  const dev = (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12);
  t.equal(decode(le(32, dev), 'majorminor'), line[3], `${major}:${minor}`);
  t.equal(decode(le(32, (4095 << 8) | 255), 'majorminor'), 'unknown:4095:255');
  t.end();
});

void t.test('ifname: interface indexes named from /sys/class/net', (t) => {
  const index = Number(readFileSync('/sys/class/net/lo/ifindex', 'utf8'));
  t.equal(decode(le(32, index), 'ifname'), 'lo');
  const taken = new Set(
    readdirSync('/sys/class/net').map((n) => Number(readFileSync(`/sys/class/net/${n}/ifindex`, 'utf8'))),
  );
  const free = [...Array(1000).keys()].find((i) => i > 0 && !taken.has(i))!;
  t.equal(decode(le(32, free), 'ifname'), `unknown:${free}`);
  t.end();
});

void t.test('cgroup: an id (as the uint before it wrote it) is the cgroup path; an unknown one says so', (t) => {
  const dir = createCgroup(t);
  t.equal(decode(le(64, statSync(dir, { bigint: true }).ino), 'uint', 'cgroup'), dir, 'a new cgroup, by its path');
  t.equal(
    decode(le(64, statSync(cgroup2Mount()!, { bigint: true }).ino), 'uint', 'cgroup'),
    cgroup2Mount(),
    'the root',
  );
  t.equal(decode(le(64, 2n ** 63n), 'uint', 'cgroup'), `unknown_cgroup_id:${2n ** 63n}`);
  t.end();
});

const PCI_IDS = `# pci.ids, a few lines of it
8086  Intel Corporation
\t100e  82540EM Gigabit Ethernet Controller
\t\t8086 001e  PRO/1000 MT Mobile Connection
1af4  Red Hat, Inc.
\t1000  Virtio network device
C 01  Mass storage controller
\t08  Non-Volatile memory controller
\t\t02  NVM Express
C 02  Network controller
\t00  Ethernet controller
`;

void t.test('pci.ids: vendors, devices, classes and subclasses by the numbers the pci decoders read', (t) => {
  const ids = parsePciIds(PCI_IDS);
  t.equal(ids.vendors.get(0x8086), 'Intel Corporation');
  t.equal(ids.devices.get(0x8086 * 65536 + 0x100e), '82540EM Gigabit Ethernet Controller');
  t.equal(ids.devices.get(0x1af4 * 65536 + 0x1000), 'Virtio network device');
  t.equal(ids.devices.size, 2, 'subsystem lines are not devices');
  t.equal(ids.classes.get(0x02), 'Network controller');
  t.equal(ids.subclasses.get(0x0108), 'Non-Volatile memory controller');
  t.equal(ids.subclasses.size, 2, 'programming interfaces are not subclasses');
  t.end();
});

void t.test("the pci decoders read this system's pci.ids, or say in one line that it is missing", (t) => {
  const system = systemPciIds();
  for (const name of ['pci_vendor', 'pci_device', 'pci_class', 'pci_subclass']) {
    if (system) t.doesNotThrow(() => DECODERS[name].build({ name }), name);
    else t.throws(() => DECODERS[name].build({ name }), /^pci_\* decoders need pci\.ids \(/, name);
  }
  if (system) {
    t.equal(decode(le(16, 0x8086), 'uint', 'pci_vendor'), 'Intel Corporation');
    t.equal(decode(le(16, 0xfff0), 'uint', 'pci_vendor'), 'unknown pci vendor: 0xfff0');
  }
  t.end();
});

void t.test('kallsyms: exact and containing symbols, addresses by name, module symbols', (t) => {
  const table = [
    'ffffffff81000000 T _stext',
    'ffffffff81000100 t helper',
    'ffffffffc0001000 t nft_do_chain\t[nf_tables]',
  ];
  const syms = new Kallsyms(() => table.join('\n'));
  t.equal(syms.exact(0xffffffff81000100n), 'helper');
  t.equal(syms.exact(0xffffffff81000101n), undefined);
  t.equal(syms.containing(0xffffffff81000180n), 'helper');
  t.equal(syms.containing(0xffffffffc0001010n), 'nft_do_chain\t[nf_tables]');
  t.equal(syms.containing(0x10n), undefined);
  t.equal(syms.address('_stext'), 0xffffffff81000000n);
  t.equal(syms.address('missing'), undefined);
  const hidden = new Kallsyms(() => table.map((l) => l.replace(/^[0-9a-f]+/, '0000000000000000')).join('\n'));
  t.equal(hidden.address('_stext'), 0n, 'hidden addresses read 0, as the kernel shows them');
  t.end();
});
