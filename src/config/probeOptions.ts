// Per-probe settings: in-kernel filters (pid, cgroup, comm), optional labels
// and histogram buckets. The probe definitions say what is possible (which
// labels are optional, which metrics are log2 histograms); these functions
// check a probe's settings against them and apply them to a definition.
import { histogramSlots } from '../decode/histogramSlots';
import { EDGE_RANGE, schemaOfSlots, slotUpperEdge } from '../decode/latencySlots';
import type { MapHistogramDefinition, ProbeDefinition } from '../probes/ProbeDefinition';

/** In-kernel filters (load-time constants); unset: every task. */
export interface ProbeFilter {
  /** Only this process (tgid). */
  tgid?: number;
  /** Only this cgroup v2 directory and below. */
  cgroup?: string;
  /** Only tasks with this command name (comm: at most 15 bytes). */
  comm?: string;
}

/** A probe's own settings (config file `probes.<name>`); filters here override the global ones. */
export interface ProbeOptions extends ProbeFilter {
  /** Optional labels to turn on (see `optionalLabels` in the probe's metrics). */
  labels?: string[];
  /** Histogram bounds by metric name, in seconds; each a slot edge (bucketProblem). */
  buckets?: Record<string, number[]>;
}

/** What one probe runs with, once global and per-probe settings are combined. */
export interface EffectiveProbeOptions extends ProbeFilter {
  labels: string[];
  buckets: Record<string, number[]>;
}

/** Every slot its own bucket: a probe's histograms at full resolution (`stats`, `top`). */
export function everySlotBuckets(definition: ProbeDefinition): Record<string, number[]> {
  return Object.fromEntries(
    histogramsOf(definition).map((h) => {
      const slots = histogramSlots(definition, h);
      const schema = schemaOfSlots(slots);
      // Slots 1 .. slots - 2 have finite edges; the last one is +Inf's.
      return [h.name, Array.from({ length: slots - 2 }, (_, i) => slotUpperEdge(i + 1, schema))];
    }),
  );
}

/** The labels a probe can turn on, over all its metrics. */
export function optionalLabelsOf(definition: ProbeDefinition): string[] {
  const labels = new Set<string>();
  for (const metric of [...definition.recordMetrics, ...definition.mapMetrics]) {
    for (const label of metric.optionalLabels ?? []) labels.add(label);
  }
  return [...labels];
}

export function histogramsOf(definition: ProbeDefinition): MapHistogramDefinition[] {
  return definition.mapMetrics.filter((m): m is MapHistogramDefinition => m.type === 'histogram');
}

/** The definition loading its object built for `schema` (Makefile: NAME.schemaN.bpf.o) when it has latency histograms. */
export function withHistogramSchema(definition: ProbeDefinition, schema: number): ProbeDefinition {
  if (schema === 0 || histogramsOf(definition).length === 0) return definition;
  return { ...definition, object: definition.object.replace(/\.bpf\.o$/, `.schema${schema}.bpf.o`) };
}

/** The definition with every optional label that is not in `enabled` removed from its metrics. */
export function withOptionalLabels(definition: ProbeDefinition, enabled: readonly string[]): ProbeDefinition {
  const keep = <T>(labels: Record<string, T>, optional: readonly string[] = []): Record<string, T> =>
    Object.fromEntries(
      Object.entries(labels).filter(([label]) => !optional.includes(label) || enabled.includes(label)),
    );
  return {
    ...definition,
    recordMetrics: definition.recordMetrics.map((m) => ({ ...m, labels: keep(m.labels, m.optionalLabels) })),
    mapMetrics: definition.mapMetrics.map((m) => ({ ...m, labels: keep(m.labels, m.optionalLabels) })),
  };
}

/** Whether `comm` can match a task's comm: 1 to 15 bytes of UTF-8, no NUL. */
export function isComm(comm: unknown): comm is string {
  if (typeof comm !== 'string' || comm.includes('\0')) return false;
  const bytes = Buffer.byteLength(comm, 'utf8');
  return bytes >= 1 && bytes <= 15;
}

export const COMM_ACCEPTED = 'a command name (comm) of 1 to 15 bytes';

const EDGE_EXPONENTS = `${Math.log2(EDGE_RANGE.min)} <= k <= ${Math.log2(EDGE_RANGE.max)}`;

/**
 * Why `bounds` cannot be classic buckets of a latency histogram, or undefined
 * when they can: ascending powers of two of a second, which are slot edges at
 * every schema (latencySlots).
 */
export function bucketProblem(bounds: unknown): string | undefined {
  const accepted = `a non-empty ascending list of slot edges 2^k seconds (${EDGE_EXPONENTS}), e.g. 0.0009765625 (2^-10)`;
  if (!Array.isArray(bounds) || bounds.length === 0) return accepted;
  let last = -Infinity;
  for (const bound of bounds as unknown[]) {
    if (typeof bound !== 'number' || !Number.isFinite(bound) || bound <= 0) return accepted;
    const exponent = Math.log2(bound);
    if (bound > EDGE_RANGE.max) return `${accepted}; ${bound} is above the largest, ${EDGE_RANGE.max}`;
    if (bound < EDGE_RANGE.min) return `${accepted}; ${bound} is below the smallest, ${EDGE_RANGE.min}`;
    if (Math.abs(exponent - Math.round(exponent)) > 1e-9) {
      return `${accepted}; ${bound} is not one (nearest: ${2 ** Math.floor(exponent)}, ${2 ** Math.ceil(exponent)})`;
    }
    if (bound <= last) return `${accepted}; ${bound} does not ascend`;
    last = bound;
  }
  return undefined;
}
