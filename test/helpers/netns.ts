// Throw-away network namespaces and veth pairs (iproute2), deleted at
// teardown, and commands run inside them. Only namespaces a test creates are
// touched, so their addresses (10.x) never reach a real network.
import { existsSync, statSync } from 'node:fs';

import type { RunResult } from './process';
import { run } from './process';
import type { HasTeardown } from './teardown';

let created = 0;

/** Runs a command to completion; throws with its output unless it exits 0. */
export async function must(command: string, args: string[], timeoutMs = 15000): Promise<RunResult> {
  const result = await run(command, args, { timeoutMs });
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.code ?? result.signal}: ${result.stderr}`);
  }
  return result;
}

export class Netns {
  private constructor(
    readonly name: string,
    /** nsfs inode number: what the kernel's net->ns.inum holds. */
    readonly inum: number,
  ) {}

  /** `ip netns add` a fresh namespace with its loopback up; `ip netns del` at teardown. */
  static async create(t: HasTeardown): Promise<Netns> {
    const name = `kstest-${process.pid}-${++created}`;
    await must('ip', ['netns', 'add', name]);
    t.teardown(() => Netns.remove(name));
    await must('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return new Netns(name, statSync(`/run/netns/${name}`).ino);
  }

  private static async remove(name: string): Promise<void> {
    if (existsSync(`/run/netns/${name}`)) await must('ip', ['netns', 'del', name]);
  }

  /** `ip -n NAME args...` */
  ip(args: string[]): Promise<RunResult> {
    return must('ip', ['-n', this.name, ...args]);
  }

  /** The argv that runs `command args...` inside this namespace. */
  argv(command: string, args: string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', this.name, command, ...args]];
  }

  /** Runs a command inside this namespace; throws unless it exits 0. */
  exec(command: string, args: string[], timeoutMs = 30000): Promise<RunResult> {
    return must(...this.argv(command, args), timeoutMs);
  }

  /**
   * A counter of this namespace's /proc/net/snmp (`Tcp`, `RetransSegs`) or
   * /proc/net/netstat (`TcpExt`, `TCPRetransFail`).
   */
  async counter(file: 'snmp' | 'netstat', group: string, name: string): Promise<number> {
    const { stdout } = await this.exec('cat', [`/proc/net/${file}`]);
    const rows = stdout.split('\n').filter((line) => line.startsWith(`${group}: `));
    const [header, values] = rows.map((row) => row.split(/\s+/).slice(1));
    const index = header?.indexOf(name) ?? -1;
    if (!header || !values || index < 0) throw new Error(`no ${group} ${name} in /proc/net/${file}`);
    return Number(values[index]);
  }
}

/**
 * A veth pair with one end in each namespace, addressed `${prefix}.1/30` in
 * `a` and `${prefix}.2/30` in `b` (MAC addresses fixed), both up. Deleting either namespace deletes
 * the pair; teardown also deletes it if it is still in this namespace.
 */
export async function vethPair(
  t: HasTeardown,
  a: Netns,
  b: Netns,
  prefix: string,
): Promise<{ a: string; b: string; macA: string; macB: string }> {
  const base = `kst${process.pid % 100000}${created}`;
  const ends = { a: `${base}a`, b: `${base}b` };
  const mac = (end: number): string => `02:6b:73:${(created >> 8) & 0xff}:${created & 0xff}:0${end}`;
  await must('ip', [
    'link',
    'add',
    ends.a,
    'address',
    mac(1),
    'type',
    'veth',
    'peer',
    'name',
    ends.b,
    'address',
    mac(2),
  ]);
  t.teardown(async () => {
    if ((await run('ip', ['link', 'show', ends.a])).code === 0) await must('ip', ['link', 'del', ends.a]);
  });
  await must('ip', ['link', 'set', ends.a, 'netns', a.name]);
  await must('ip', ['link', 'set', ends.b, 'netns', b.name]);
  await a.ip(['addr', 'add', `${prefix}.1/30`, 'dev', ends.a]);
  await b.ip(['addr', 'add', `${prefix}.2/30`, 'dev', ends.b]);
  await a.ip(['link', 'set', ends.a, 'up']);
  await b.ip(['link', 'set', ends.b, 'up']);
  return { ...ends, macA: mac(1), macB: mac(2) };
}
