// Linux capabilities: their names (spelled as in a Kubernetes securityContext,
// `BPF` for CAP_BPF), their bits, and the sets /proc says each thread of a
// process holds. Capability sets belong to threads, not processes, so the
// sets are read per thread from /proc/PID/task/TID/status.
import { readFileSync, readdirSync } from 'node:fs';

/** Bit numbers (linux/capability.h). */
export const CAPABILITY_BITS = {
  CHOWN: 0n,
  DAC_OVERRIDE: 1n,
  DAC_READ_SEARCH: 2n,
  FOWNER: 3n,
  FSETID: 4n,
  KILL: 5n,
  SETGID: 6n,
  SETUID: 7n,
  SETPCAP: 8n,
  LINUX_IMMUTABLE: 9n,
  NET_BIND_SERVICE: 10n,
  NET_BROADCAST: 11n,
  NET_ADMIN: 12n,
  NET_RAW: 13n,
  IPC_LOCK: 14n,
  IPC_OWNER: 15n,
  SYS_MODULE: 16n,
  SYS_RAWIO: 17n,
  SYS_CHROOT: 18n,
  SYS_PTRACE: 19n,
  SYS_PACCT: 20n,
  SYS_ADMIN: 21n,
  SYS_BOOT: 22n,
  SYS_NICE: 23n,
  SYS_RESOURCE: 24n,
  SYS_TIME: 25n,
  SYS_TTY_CONFIG: 26n,
  MKNOD: 27n,
  LEASE: 28n,
  AUDIT_WRITE: 29n,
  AUDIT_CONTROL: 30n,
  SETFCAP: 31n,
  MAC_OVERRIDE: 32n,
  MAC_ADMIN: 33n,
  SYSLOG: 34n,
  WAKE_ALARM: 35n,
  BLOCK_SUSPEND: 36n,
  AUDIT_READ: 37n,
  PERFMON: 38n,
  BPF: 39n,
  CHECKPOINT_RESTORE: 40n,
} as const;

export type Capability = keyof typeof CAPABILITY_BITS;

const CAPABILITIES = Object.keys(CAPABILITY_BITS) as Capability[];

/** `CAP_BPF`, `cap_bpf`, `BPF` or `bpf` as a Capability, or undefined for anything else. */
export function parseCapability(name: string): Capability | undefined {
  const bare = name.trim().toUpperCase().replace(/^CAP_/, '');
  return CAPABILITIES.find((cap) => cap === bare);
}

export function capabilityMask(caps: Iterable<Capability>): bigint {
  let mask = 0n;
  for (const cap of caps) mask |= 1n << CAPABILITY_BITS[cap];
  return mask;
}

/** The capabilities in `mask`, in bit order; bits this table does not name are left out. */
export function capabilitiesIn(mask: bigint): Capability[] {
  return CAPABILITIES.filter((cap) => (mask & (1n << CAPABILITY_BITS[cap])) !== 0n);
}

/** One thread's capability sets and no_new_privs, as /proc/PID/task/TID/status shows them. */
export interface ThreadCapabilities {
  tid: number;
  /** The thread's name (comm), e.g. `node`, `libuv-worker`. */
  name: string;
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  ambient: bigint;
  bounding: bigint;
  noNewPrivs: boolean;
  /** Signals the thread blocks (bit N-1 for signal N). */
  blocked: bigint;
}

/** The sets of one thread from its status file's text. */
export function parseThreadStatus(tid: number, status: string): ThreadCapabilities {
  const field = (name: string): string => {
    const value = new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1];
    if (value === undefined) throw new Error(`no ${name} in /proc status of thread ${tid}`);
    return value.trim();
  };
  const hex = (name: string): bigint => BigInt(`0x${field(name)}`);
  return {
    tid,
    name: field('Name'),
    effective: hex('CapEff'),
    permitted: hex('CapPrm'),
    inheritable: hex('CapInh'),
    ambient: hex('CapAmb'),
    bounding: hex('CapBnd'),
    noNewPrivs: field('NoNewPrivs') === '1',
    blocked: hex('SigBlk'),
  };
}

/** Every live thread of `pid` (default: this process) with its sets. */
export function threadCapabilities(pid: number | 'self' = 'self'): ThreadCapabilities[] {
  const threads: ThreadCapabilities[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    threads.push(parseThreadStatus(Number(tid), status));
  }
  return threads;
}
