// Typed face of the C++ addon (native/). Arguments are validated here or by
// the callers, before they reach C++.
import { createRequire } from 'node:module';
import path from 'node:path';

/** Every libbpf failure is thrown as this class. */
export class BpfError extends Error {
  /** Failing operation: `open <file>`, `load <object>`, `attach <program> as <kind> <target>`. */
  declare readonly op: string;
  declare readonly errno: number;
  /** Symbolic errno (`EPERM`, `ENOENT`), or `ELIBBPF` for libbpf's own codes. */
  declare readonly code: string;
  /** What libbpf printed while the operation failed (verifier log included). */
  declare readonly libbpfLog: string;

  constructor(message: string) {
    super(message);
    this.name = 'BpfError';
  }
}

export type AttachKind = 'tracepoint' | 'raw_tp' | 'tp_btf' | 'kprobe' | 'kretprobe' | 'fentry' | 'fexit';
export const ATTACH_KINDS: readonly AttachKind[] = [
  'tp_btf',
  'raw_tp',
  'tracepoint',
  'fentry',
  'fexit',
  'kprobe',
  'kretprobe',
];

export interface ProgramInfo {
  name: string;
  section: string;
  type: string;
  autoload: boolean;
}

export interface MapInfo {
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** Whether load() creates (or created) the map: see setAutocreate. */
  autocreate: boolean;
}

/** A struct member as compiled, read from the object's BTF. */
export interface BtfMember {
  name: string;
  offset: number;
  size: number;
  bitfield: boolean;
  kind: 'int' | 'array' | 'struct' | 'other';
  signed?: boolean;
  count?: number;
  element?: Omit<BtfMember, 'name' | 'offset' | 'bitfield'>;
  typeName?: string;
}

export interface BtfStruct {
  name: string;
  size: number;
  members: BtfMember[];
}

export interface ProgramStats {
  name: string;
  id: number;
  runCount: number;
  runTimeNs: number;
  /** Runs skipped because the program was already running on that CPU. */
  recursionMisses: number;
}

/** What entries() read: `count` keys and values, each packed back to back. */
export interface MapEntries {
  count: number;
  keys: Uint8Array;
  /** `cpus` values per key, each `valueStride` bytes: key i's value on CPU c at (i * cpus + c) * valueStride. */
  values: Uint8Array;
  /** The map's value size, rounded up to 8 bytes in a per-CPU map (as the kernel copies them out). */
  valueStride: number;
  /** Values per key: one per possible CPU in a per-CPU map, else 1. */
  cpus: number;
}

export interface NativeLink {
  destroy(): void;
  readonly destroyed: boolean;
}

export interface NativeBpfObject {
  programs(): ProgramInfo[];
  maps(): MapInfo[];
  setAutoload(program: string, load: boolean): void;
  /** `entries`: an integer from 1 to 2^32 - 1. */
  setMaxEntries(map: string, entries: number): void;
  /** Whether load() creates this map (default true); a map no loaded program uses can be skipped. */
  setAutocreate(map: string, create: boolean): void;
  setConstant(name: string, value: Uint8Array): void;
  recordLayout(struct: string): BtfStruct;
  enumValues(name: string): Record<string, number>;
  load(): void;
  attach(program: string, kind: AttachKind, target?: string): NativeLink;
  /** The value under `key`, laid out as entries() describes (a per-CPU map: one per possible CPU), or null. */
  lookup(map: string, key: Uint8Array): Uint8Array | null;
  entries(map: string): MapEntries;
  programStats(): ProgramStats[];
  /** Runs a raw_tp program once with at most 12 integer context words (negative: signed); returns its r0. */
  testRun(program: string, args: number[]): number;
  /** Makes a created map read-only from user space (BPF_MAP_FREEZE); the programs still write it. */
  freezeMap(map: string): void;
  close(): void;
  readonly closed: boolean;
}

/**
 * A BPF ring buffer mapped into this process, for RingDrain to consume in
 * place. `consumer` (read-write) holds the consumer position at byte 0;
 * `producer` (read-only) holds the producer position at byte 0 and, from
 * `dataOffset` on, the ring's data pages twice in a row (2 * size bytes), so a
 * record starting anywhere in the first copy is contiguous. Positions are u64
 * and must be read and written with Atomics (the ring protocol's
 * acquire/release). Each record: u32 length (bit 31 busy, bit 30 discarded),
 * u32, then the record, padded to 8 bytes.
 *
 * `producer` is read-only memory (the kernel refuses writable mappings of it,
 * and JS has no read-only ArrayBuffer): writing into it kills the process with
 * SIGSEGV. Only RingDrain touches these buffers.
 */
export interface NativeRingReader {
  readonly consumer: ArrayBuffer;
  readonly producer: ArrayBuffer;
  readonly dataOffset: number;
  readonly size: number;
  /**
   * Calls `onReadable(true)` when the kernel wakes the ring's readers: a
   * libuv poll on the ring's fd, edge-triggered (see native/ring_reader.h).
   * With `intervalMs` (a whole number, 1 to 3600000), a native timer also
   * calls `onReadable(false)` every `intervalMs` while the ring holds
   * records. close() stops both.
   */
  watch(onReadable: (woken: boolean) => void, intervalMs?: number): void;
  close(): void;
}

export interface AttachVerdict {
  ok: boolean;
  reason?: string;
}

export interface KernelFeatures {
  btf: boolean;
  ringbuf: boolean;
  attach: Record<AttachKind, AttachVerdict>;
}

/** What dropCapabilities did: the signal it broadcast on and how many threads dropped. */
export interface ThreadBroadcast {
  signal: number;
  threads: number;
}

interface Addon {
  BpfObject: new (source: string | Uint8Array, name: string) => NativeBpfObject;
  RingReader: new (object: NativeBpfObject, map: string) => NativeRingReader;
  setErrorClass(ctor: typeof BpfError): void;
  kernelFeatures(): KernelFeatures;
  enableRunTimeStats(): boolean;
  libbpfVersion(): string;
  /**
   * Every thread keeps only the capabilities of `keep` (bit N: capability N)
   * it holds, with empty inheritable and ambient sets, a bounding set of
   * `keep` (where it holds CAP_SETPCAP) and no_new_privs. Throws when a thread
   * does not answer or a system call fails; check /proc afterwards.
   */
  dropCapabilities(keep: bigint): ThreadBroadcast;
}

/** Repository root: dist/src/native -> ../../.. */
export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');

const ADDON_FILE = path.join(PACKAGE_ROOT, 'build', 'Release', 'kernscope.node');

/** The addon, or one line naming the file, why the dynamic loader refused it and the fix. */
function loadAddon(): Addon {
  try {
    return createRequire(__filename)(ADDON_FILE) as Addon;
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    throw new Error(
      `cannot load the addon ${ADDON_FILE} on ${process.platform}-${process.arch}: ${reason}: ` +
        'install the package built for this platform, or build from source (make)',
    );
  }
}

export const addon = loadAddon();
addon.setErrorClass(BpfError);
