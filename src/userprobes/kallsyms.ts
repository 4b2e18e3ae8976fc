// /proc/kallsyms, read when first needed and again when an address or symbol
// is missing (a module loaded since), at most once a second: kernel symbols
// for the `ksym` and `kstack` decoders and the `kaddrs` a user object asks for.
import { readFileSync } from 'node:fs';

const REREAD_MS = 1000;

export class Kallsyms {
  private byAddress = new Map<bigint, string>();
  private byName = new Map<string, bigint>();
  /** Addresses ascending, for the symbol an address falls in. */
  private sorted: bigint[] = [];
  private readAt = -Infinity;

  constructor(private readonly read = () => readFileSync('/proc/kallsyms', 'utf8')) {}

  /** Reads the table now, if not yet read: addresses read as 0 once the agent drops CAP_SYSLOG. */
  preload(): void {
    if (this.readAt === -Infinity) this.load();
  }

  /** The symbol starting exactly at `address` (`tcp_connect`, `nf_hook [nf_tables]`), or undefined. */
  exact(address: bigint): string | undefined {
    return this.lookup(() => this.byAddress.get(address));
  }

  /** The symbol `address` falls in: the nearest at or below it, or undefined. */
  containing(address: bigint): string | undefined {
    return this.lookup(() => {
      const { sorted } = this;
      let [low, high] = [0, sorted.length - 1];
      while (low <= high) {
        const mid = (low + high) >> 1;
        if (sorted[mid] <= address) low = mid + 1;
        else high = mid - 1;
      }
      return high >= 0 ? this.byAddress.get(sorted[high]) : undefined;
    });
  }

  /** The address of `symbol` (0 where kptr_restrict hides addresses), or undefined when there is no such symbol. */
  address(symbol: string): bigint | undefined {
    return this.lookup(() => this.byName.get(symbol));
  }

  private lookup<T>(find: () => T | undefined): T | undefined {
    if (this.readAt === -Infinity) this.load();
    const found = find();
    if (found !== undefined || Date.now() - this.readAt < REREAD_MS) return found;
    this.load();
    return find();
  }

  private load(): void {
    const byAddress = new Map<bigint, string>();
    const byName = new Map<string, bigint>();
    for (const line of this.read().split('\n')) {
      // `ffffffff81000000 T _stext`, `ffffffffc0a01000 t nft_do_chain\t[nf_tables]`
      const match = /^([0-9a-f]+) \S (\S+)(\t\[\S+\])?$/.exec(line);
      if (!match) continue;
      const address = BigInt(`0x${match[1]}`);
      byName.set(match[2], address);
      if (address !== 0n && !byAddress.has(address)) byAddress.set(address, match[2] + (match[3] ?? ''));
    }
    this.readAt = Date.now();
    // Hidden addresses (kptr_restrict, no CAP_SYSLOG any more) all read 0: keep what was read before.
    if (byAddress.size === 0 && this.byAddress.size > 0) return;
    this.byAddress = byAddress;
    this.byName = byName;
    this.sorted = [...byAddress.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}
