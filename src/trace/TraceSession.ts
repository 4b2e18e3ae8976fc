// The probes `kernscope trace` runs: each loaded with its trace records on
// (and the kernel-side filters), drained into a sink that checks each
// record's header, decodes it by the layout read from BTF, applies what only
// user space can filter (a comm pattern) and hands the event on. Lost events
// (failed reservations, skipped re-entrant runs) are polled once a second so
// the stream can report them as they happen. stop() leaves nothing attached.
import { lostEventsOf } from '../agent/selfMetrics';
import { RecordLayout } from '../decode/RecordLayout';
import { readField } from '../decode/readField';
import { RingDrain } from '../drain/RingDrain';
import { callbackSink } from '../drain/RecordLoop';
import type { LoadedProbe, LoadSettings } from '../load/ProbeLoader';
import { ProbeLoader } from '../load/ProbeLoader';
import type { KernelFeatures } from '../native/addon';
import type { DecodedRecord, ProbeDefinition, TraceDefinition } from '../probes/ProbeDefinition';
import type { TraceEvent } from './TraceFormat';
import { monotonicToWallMs, toEvent } from './TraceFormat';

export interface TraceHandlers {
  event(event: TraceEvent): void;
  /** `count` more events of `probe` were lost since the last report. */
  lost(probe: string, count: number): void;
}

interface TracedProbe {
  definition: ProbeDefinition;
  trace: TraceDefinition;
  loaded: LoadedProbe;
  drain: RingDrain;
  /** Lost events already reported. */
  lostReported: number;
}

/** Per-probe totals of a session. */
export interface TraceTotals {
  events: Map<string, number>;
  lost: Map<string, number>;
  /** Records whose header did not match the probe's record type and version: a bug if ever non-zero. */
  invalid: number;
}

const LOST_POLL_MS = 1000;

export class TraceSession {
  private readonly probes: TracedProbe[] = [];
  private lostTimer?: NodeJS.Timeout;
  readonly totals: TraceTotals = { events: new Map(), lost: new Map(), invalid: 0 };

  constructor(
    private readonly handlers: TraceHandlers,
    private readonly commPattern?: RegExp,
  ) {}

  /** Loads and attaches each probe, in order; on a failure, what was attached is detached and the error thrown. */
  start(
    definitions: ProbeDefinition[],
    features: KernelFeatures,
    settings: LoadSettings,
    onLoaded: (probe: LoadedProbe) => void,
  ): void {
    const loader = new ProbeLoader(features);
    try {
      for (const definition of definitions) {
        const trace = definition.trace!;
        const loaded = loader.load(definition, settings);
        try {
          const drain = new RingDrain(loaded.object, this.sinkFor(definition.name, trace, loaded), {
            intervalMs: 50,
          });
          this.probes.push({ definition, trace, loaded, drain, lostReported: lostEventsOf(loaded.object) });
          drain.start();
        } catch (error) {
          loaded.object.close();
          throw error;
        }
        this.totals.events.set(definition.name, 0);
        this.totals.lost.set(definition.name, 0);
        onLoaded(loaded);
      }
    } catch (error) {
      this.stop();
      throw error;
    }
    this.lostTimer = setInterval(() => this.pollLost(), LOST_POLL_MS);
  }

  /** Drains what is left, reports the last losses, detaches everything. Safe to call twice. */
  stop(): void {
    if (this.lostTimer) clearInterval(this.lostTimer);
    this.lostTimer = undefined;
    for (const probe of this.probes) probe.drain.stop();
    this.pollLost();
    for (const probe of this.probes.splice(0)) probe.loaded.object.close();
  }

  private pollLost(): void {
    for (const probe of this.probes) {
      const lost = lostEventsOf(probe.loaded.object);
      const more = lost - probe.lostReported;
      if (more <= 0) continue;
      probe.lostReported = lost;
      const name = probe.definition.name;
      this.totals.lost.set(name, (this.totals.lost.get(name) ?? 0) + more);
      this.handlers.lost(name, more);
    }
  }

  private sinkFor(probe: string, trace: TraceDefinition, loaded: LoadedProbe) {
    const layout = RecordLayout.fromObject(loaded.object, trace.record.struct);
    const type = loaded.object.enumValues('ks_record_type')[trace.record.type];
    if (type === undefined) throw new Error(`${probe}: no ${trace.record.type} in enum ks_record_type`);
    const fields = layout.allFields();
    const typeField = layout.field('hdr.type');
    const versionField = layout.field('hdr.version');
    const tsField = layout.field('hdr.ts_ns');
    const pattern = this.commPattern;
    return callbackSink((view, _words, record, length) => {
      if (
        length < layout.size ||
        readField(view, record, typeField) !== type ||
        readField(view, record, versionField) !== trace.record.version
      ) {
        this.totals.invalid++;
        return;
      }
      const decoded: DecodedRecord = {};
      for (const field of fields) decoded[field.name] = readField(view, record, field);
      if (pattern && !pattern.test(decoded.comm as string)) return;
      const timeMs = monotonicToWallMs(readField(view, record, tsField) as number);
      this.totals.events.set(probe, (this.totals.events.get(probe) ?? 0) + 1);
      this.handlers.event(toEvent(probe, trace, decoded, timeMs));
    });
  }
}
