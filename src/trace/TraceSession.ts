// The probes `kernscope trace` runs: each loaded with its trace records on
// (and the kernel-side filters), drained into a sink that decodes each
// record (TraceDecoder) and hands the event on. Lost events (failed
// reservations, skipped re-entrant runs) are polled once a second so the
// stream can report them as they happen. stop() leaves nothing attached.
import { lostEventsOf } from '../load/lostEvents';
import { ResolvedRecord } from '../decode/ResolvedRecord';
import { RingDrain } from '../drain/RingDrain';
import { callbackSink } from '../drain/RecordLoop';
import type { LoadedProbe, LoadSettings } from '../load/ProbeLoader';
import { ProbeLoader } from '../load/ProbeLoader';
import type { KernelFeatures } from '../native/addon';
import type { ProbeDefinition, TraceDefinition } from '../probes/ProbeDefinition';
import type { TraceEvent } from './TraceFormat';
import { FILTERED_RECORD, INVALID_RECORD, TraceDecoder } from './TraceDecoder';
import { UserTraceDecoder } from './UserTraceDecoder';

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
          const drain = new RingDrain(loaded.object, this.sinkFor(definition, trace, loaded), {
            intervalMs: 50,
            ring: definition.user?.trace?.ringbuf,
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

  private sinkFor(definition: ProbeDefinition, trace: TraceDefinition, loaded: LoadedProbe) {
    const probe = definition.name;
    const decoder = this.decoderOf(definition, trace, loaded);
    return callbackSink((view, words, record, length) => {
      const event = decoder.decode(view, words, record, length);
      if (event === INVALID_RECORD) {
        this.totals.invalid++;
        return;
      }
      if (event === FILTERED_RECORD) return;
      this.totals.events.set(probe, (this.totals.events.get(probe) ?? 0) + 1);
      this.handlers.event(event);
    });
  }

  private decoderOf(
    definition: ProbeDefinition,
    trace: TraceDefinition,
    loaded: LoadedProbe,
  ): TraceDecoder | UserTraceDecoder {
    const probe = definition.name;
    const user = definition.user?.trace;
    if (user) return new UserTraceDecoder(probe, trace, user.labels, this.commPattern);
    if (!definition.record) throw new Error(`${probe}: traced, but its definition names no ring record`);
    const record = ResolvedRecord.resolve(loaded.object, probe, definition.record);
    return new TraceDecoder(probe, trace, record, this.commPattern);
  }
}
