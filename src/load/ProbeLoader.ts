// Opens a probe's BPF object, picks for each attach point the first variant
// this kernel can run, loads and attaches. A variant that fails to load or
// attach is switched off and the next one is tried; nothing half-attached is
// left behind when a probe gives up.
import { remedyFor } from '../kernel/remedies';
import type { KernelFeatures, NativeBpfObject } from '../native/addon';
import { BpfError, addon } from '../native/addon';
import type { AttachVariant, ProbeDefinition } from '../probes/ProbeDefinition';
import { BPF_OBJECT_DIR, objectPath } from '../probes/objectPath';
import { Kallsyms } from '../userprobes/kallsyms';
import { verifyUserObject } from '../userprobes/objectSum';
import { verifyObject } from './objectIntegrity';

export interface LoadSettings {
  /** Ring buffer size in bytes (a power of two, at least a page). */
  ringBytes: number;
  /** The kernel wakes the reader once this many bytes wait. */
  wakeupBytes: number;
  tgid?: number;
  cgroup?: { id: bigint; level: number };
  /** Only tasks with this command name (comm, at most 15 bytes). */
  comm?: string;
  /** Only sockets in this network namespace (inode); applies to probes with a netns filter. */
  netns?: number;
  /** Key maps by cgroup, for namespace/pod/container labels (probes with `cgroupKeys`). */
  attribution?: boolean;
  /** Measure latency on 1 in this many events per CPU (probes with `latencySampling`); unset: every event. */
  latencyEvery?: number;
  /**
   * `kernscope trace`: send the probe's trace records, of events at least
   * `minLatencyNs` slow where measured, none of process `skipTgid` (the tracer).
   */
  trace?: { minLatencyNs: number; skipTgid: number };
}

export interface ChosenVariant {
  point: string;
  variant: AttachVariant;
}

/** Why a variant was not used: skipped by the feature probe or failed to load/attach. */
export interface VariantRejection {
  point: string;
  variant: AttachVariant;
  reason: string;
}

export interface LoadedProbe {
  definition: ProbeDefinition;
  object: NativeBpfObject;
  chosen: ChosenVariant[];
  rejected: VariantRejection[];
}

export class ProbeLoadError extends Error {
  constructor(
    readonly probe: string,
    message: string,
    readonly rejected: VariantRejection[],
  ) {
    super(message);
    this.name = 'ProbeLoadError';
  }
}

/** A u32 as a constant's little-endian bytes (setConstant). */
export function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}

/** A u64 as a constant's little-endian bytes (setConstant). */
export function u64(value: bigint | number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(value), true);
  return bytes;
}

/** A comm as the kernel holds it: NUL-padded to 16 bytes, at most 15 of them the name. */
export function commBytes(comm: string): Uint8Array {
  const bytes = new Uint8Array(16);
  const name = Buffer.from(comm, 'utf8');
  if (name.length === 0 || name.length > 15 || name.includes(0)) {
    throw new Error(`comm filter ${JSON.stringify(comm)} must be 1 to 15 bytes without NUL`);
  }
  bytes.set(name);
  return bytes;
}

/**
 * Freezes (BPF_MAP_FREEZE) every map user space only reads after load, so no
 * other process with the map's fd or id can change what the probe counts; the
 * probe's programs still write them. Not the ring buffers (their consumer
 * page is mapped writable) nor what libbpf froze already (.rodata, .kconfig).
 */
export function freezeReadOnlyMaps(object: NativeBpfObject): void {
  for (const map of object.maps()) {
    if (!map.autocreate || map.type === 'ringbuf' || /\.(rodata|kconfig)$/.test(map.name)) continue;
    object.freezeMap(map.name);
  }
}

export function describeVariant(variant: AttachVariant): string {
  return variant.target ? `${variant.kind} ${variant.target}` : `${variant.kind} (${variant.program})`;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

/** A load failure in one line: the map that could not be created (ENOMEM: its size), else the error. */
function loadFailure(error: BpfError): string {
  return /map '[^']+': failed to create: .*/.exec(error.libbpfLog)?.[0] ?? firstLine(error.message);
}

export class ProbeLoader {
  private readonly kallsyms = new Kallsyms();

  constructor(
    private readonly features: KernelFeatures,
    private readonly objectDir = BPF_OBJECT_DIR,
  ) {}

  load(definition: ProbeDefinition, settings: LoadSettings): LoadedProbe {
    const file = objectPath(definition, this.objectDir);
    if (definition.user) verifyUserObject(file);
    else verifyObject(file);
    const rejected: VariantRejection[] = [];
    const excluded = new Set<AttachVariant>();
    for (const point of definition.attach) {
      for (const variant of point.variants) {
        const verdict = this.features.attach[variant.kind];
        if (!verdict.ok) {
          excluded.add(variant);
          rejected.push({ point: point.name, variant, reason: `${variant.kind} unavailable: ${verdict.reason}` });
        }
      }
    }

    // Each failure excludes one variant, so this ends.
    for (;;) {
      const chosen: ChosenVariant[] = [];
      for (const point of definition.attach) {
        const variant = point.variants.find((v) => !excluded.has(v));
        if (!variant) {
          const reasons = rejected.filter((r) => r.point === point.name).map((r) => r.reason);
          throw new ProbeLoadError(
            definition.name,
            `probe ${definition.name}: no attach variant works for ${point.name}: ${reasons.join('; ')}`,
            rejected,
          );
        }
        chosen.push({ point: point.name, variant });
      }
      const attempt = this.tryLoad(definition, settings, chosen);
      if ('object' in attempt) return { definition, object: attempt.object, chosen, rejected };
      // Not one variant's fault (a map every variant needs): no other variant can help.
      if (!attempt.failed) {
        const fix = remedyFor(attempt.reason);
        const message = `probe ${definition.name}: ${attempt.reason}${fix ? `; fix: ${fix}` : ''}`;
        throw new ProbeLoadError(definition.name, message, rejected);
      }
      if (definition.sameKindAtEveryPoint) {
        for (const point of definition.attach) {
          for (const variant of point.variants) if (variant.kind === attempt.failed.variant.kind) excluded.add(variant);
        }
      }
      excluded.add(attempt.failed.variant);
      rejected.push({ point: attempt.failed.point, variant: attempt.failed.variant, reason: attempt.reason });
    }
  }

  private open(definition: ProbeDefinition): NativeBpfObject {
    return new addon.BpfObject(objectPath(definition, this.objectDir), definition.name);
  }

  private tryLoad(
    definition: ProbeDefinition,
    settings: LoadSettings,
    chosen: ChosenVariant[],
  ): { object: NativeBpfObject } | { failed?: ChosenVariant; reason: string } {
    const object = this.open(definition);
    let keep = false;
    try {
      this.configure(definition, object, settings, chosen);
      try {
        object.load();
      } catch (error) {
        if (!(error instanceof BpfError)) throw error;
        return { failed: this.blame(error, chosen), reason: `load failed: ${loadFailure(error)}` };
      }
      for (const choice of chosen) {
        const { program, kind, target } = choice.variant;
        try {
          object.attach(program, kind, target);
        } catch (error) {
          if (!(error instanceof BpfError)) throw error;
          return { failed: choice, reason: `attach failed: ${error.message}` };
        }
      }
      freezeReadOnlyMaps(object);
      keep = true;
      return { object };
    } finally {
      // A failed attempt leaves nothing loaded or attached.
      if (!keep) object.close();
    }
  }

  private configure(
    definition: ProbeDefinition,
    object: NativeBpfObject,
    settings: LoadSettings,
    chosen: ChosenVariant[],
  ): void {
    const wanted = new Set(chosen.map((c) => c.variant.program));
    for (const program of object.programs()) object.setAutoload(program.name, wanted.has(program.name));
    const wantedMaps = new Set(chosen.flatMap((c) => c.variant.maps ?? []));
    for (const point of definition.attach) {
      for (const map of point.variants.flatMap((v) => v.maps ?? [])) object.setAutocreate(map, wantedMaps.has(map));
    }
    for (const map of definition.skipMaps ?? []) object.setAutocreate(map, false);
    if (definition.user) {
      this.setKernelAddresses(definition, object, definition.user.kaddrs);
      return; // a user object has none of the built-in probes' settings
    }
    object.setMaxEntries('events', settings.ringBytes);
    object.setConstant('wakeup_bytes', u64(settings.wakeupBytes));
    if (settings.tgid !== undefined) object.setConstant('targ_tgid', u32(settings.tgid));
    if (settings.cgroup) {
      object.setConstant('targ_cgroup_id', u64(settings.cgroup.id));
      object.setConstant('targ_cgroup_level', u32(settings.cgroup.level));
    }
    if (settings.comm) object.setConstant('targ_comm', commBytes(settings.comm));
    if (settings.netns !== undefined && definition.netnsFilter) object.setConstant('targ_netns', u32(settings.netns));
    if (settings.attribution && definition.cgroupKeys) object.setConstant('targ_attribute', Uint8Array.of(1));
    if (settings.latencyEvery !== undefined && definition.latencySampling) {
      object.setConstant('targ_latency_every', u32(settings.latencyEvery));
    }
    if (!settings.trace) for (const map of definition.traceMaps ?? []) object.setMaxEntries(map, 1);
    if (settings.trace) {
      object.setConstant('targ_trace', Uint8Array.of(1));
      object.setConstant('targ_trace_min_ns', u64(settings.trace.minLatencyNs));
      object.setConstant('targ_skip_tgid', u32(settings.trace.skipTgid));
    }
  }

  /** `const volatile u64 kaddr_<symbol>` of a user object, from /proc/kallsyms (ebpf_exporter's kaddrs). */
  private setKernelAddresses(definition: ProbeDefinition, object: NativeBpfObject, symbols: string[]): void {
    for (const symbol of symbols) {
      const address = this.kallsyms.address(symbol);
      if (address === undefined) {
        const why = `kaddrs: no kernel symbol ${symbol} in /proc/kallsyms (data symbols need CONFIG_KALLSYMS_ALL)`;
        throw new ProbeLoadError(definition.name, `probe ${definition.name}: ${why}`, []);
      }
      object.setConstant(`kaddr_${symbol}`, u64(address));
    }
  }

  /** The chosen variant whose program (or own map) the load failure names, if any. */
  private blame(error: BpfError, chosen: ChosenVariant[]): ChosenVariant | undefined {
    const map = /map '([^']+)': failed to create/.exec(error.libbpfLog)?.[1];
    if (map) return chosen.find((c) => c.variant.maps?.includes(map));
    const program = /prog '([^']+)'/.exec(error.libbpfLog)?.[1];
    return chosen.find((c) => c.variant.program === program) ?? (chosen.length === 1 ? chosen[0] : undefined);
  }
}
