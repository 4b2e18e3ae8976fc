// A probe is data: which BPF object, how to attach it (variants in order of
// preference), which record it emits and which metrics those records feed.
// Adding a probe is adding a file in this folder and a line in index.ts.
import type { AttachKind } from '../native/addon';

export interface AttachVariant {
  kind: AttachKind;
  /** Program (function) name in the BPF object. */
  program: string;
  /** Attach target for kinds that take one: `sched/sched_process_exec` (tracepoint), `sched_process_exec` (raw_tp). */
  target?: string;
}

/** Programs that do one job; exactly one of its variants is attached. */
export interface AttachPoint {
  name: string;
  variants: AttachVariant[];
}

export interface CounterDefinition {
  type: 'counter';
  name: string;
  help: string;
  /** Label name -> record field that supplies its value. */
  labels: Record<string, string>;
}

export type MetricDefinition = CounterDefinition;

export interface ProbeDefinition {
  name: string;
  summary: string;
  /** File in dist/bpf/. */
  object: string;
  /**
   * The record: its struct and its `enum ks_record_type` name, both read from
   * the object's BTF, and the layout version this decoder was written for.
   */
  record: { struct: string; type: string; version: number };
  attach: AttachPoint[];
  metrics: MetricDefinition[];
}
