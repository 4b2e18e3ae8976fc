// The kernel's own view of loaded programs and links, through bpftool: an
// observer independent of the addon under test.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

import { waitFor } from './teardown';

export interface ProgInfo {
  id: number;
  type: string;
  name?: string;
}

export interface LinkInfo {
  id: number;
  type: string;
  prog_id: number;
}

function bpftoolJson<T>(args: string[]): T {
  const out = execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return (out.trim() === '' ? [] : JSON.parse(out)) as T;
}

export function progs(): ProgInfo[] {
  return bpftoolJson<ProgInfo[]>(['prog', 'show']);
}

export function links(): LinkInfo[] {
  return bpftoolJson<LinkInfo[]>(['link', 'show']);
}

export interface MapShow {
  id: number;
  type: string;
  name?: string;
  /** 1 once BPF_MAP_FREEZE made it read-only from user space. */
  frozen: number;
  bytes_value: number;
}

export function maps(): MapShow[] {
  return bpftoolJson<MapShow[]>(['map', 'show']);
}

export function mapById(id: number): MapShow {
  return bpftoolJson<MapShow>(['map', 'show', 'id', String(id)]);
}

export interface BpfIds {
  progIds: number[];
  linkIds: number[];
  mapIds: number[];
}

/**
 * The BPF programs, links and maps a process holds open, from its fd table
 * (/proc/PID/fdinfo): exactly that process's objects, whatever else the
 * machine has loaded.
 */
export function bpfIdsOf(pid: number): BpfIds {
  const ids: BpfIds = { progIds: [], linkIds: [], mapIds: [] };
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    let info: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(info)?.[1]);
    if (target === 'anon_inode:bpf-prog') ids.progIds.push(field('prog_id'));
    else if (target === 'anon_inode:bpf_link') ids.linkIds.push(field('link_id'));
    else if (target === 'anon_inode:bpf-map') ids.mapIds.push(field('map_id'));
  }
  return ids;
}

/** Polls bpftool until none of the given ids exist (the kernel frees them asynchronously); returns what is left. */
export async function waitGone(
  progIds: Iterable<number>,
  linkIds: Iterable<number>,
  timeoutMs = 2500,
  mapIds: Iterable<number> = [],
): Promise<{ progs: ProgInfo[]; links: LinkInfo[]; maps?: unknown[] }> {
  const p = new Set(progIds);
  const l = new Set(linkIds);
  const m = new Set(mapIds);
  const check = (): { progs: ProgInfo[]; links: LinkInfo[]; maps?: unknown[] } => {
    const left = { progs: progs().filter((x) => p.has(x.id)), links: links().filter((x) => l.has(x.id)) };
    return m.size === 0 ? left : { ...left, maps: maps().filter((x) => m.has(x.id)) };
  };
  let left = check();
  const empty = (): boolean => left.progs.length === 0 && left.links.length === 0 && (left.maps?.length ?? 0) === 0;
  try {
    await waitFor('BPF programs, links and maps to be released', () => ((left = check()), empty() ? true : undefined), {
      timeoutMs,
      intervalMs: 50,
    });
  } catch {
    // report what is left
  }
  return left;
}

/**
 * Everything `pid` held at any moment until it exited, polled from its fd
 * table: for an agent that exits by itself, or is signalled mid-start-up,
 * every id it had must be gone afterwards.
 */
export async function bpfIdsHeldUntilExit(pid: number, exited: Promise<unknown>): Promise<BpfIds> {
  const seen = { progIds: new Set<number>(), linkIds: new Set<number>(), mapIds: new Set<number>() };
  let done = false;
  void exited.finally(() => (done = true));
  while (!done) {
    let now: BpfIds;
    try {
      now = bpfIdsOf(pid);
    } catch {
      break; // /proc/PID is gone
    }
    now.progIds.forEach((id) => seen.progIds.add(id));
    now.linkIds.forEach((id) => seen.linkIds.add(id));
    now.mapIds.forEach((id) => seen.mapIds.add(id));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return { progIds: [...seen.progIds], linkIds: [...seen.linkIds], mapIds: [...seen.mapIds] };
}
