// The agent: loads the selected probes, drains their rings into aggregators
// and offers every metric family to the exporters. stop() leaves nothing
// loaded or attached.
import { ProbeAggregator } from '../aggregate/ProbeAggregator';
import type { MetricFamily } from '../aggregate/MetricFamily';
import type { AgentOptions } from '../config/AgentOptions';
import { RecordLayout } from '../decode/RecordLayout';
import { RingDrain } from '../drain/RingDrain';
import { resolveCgroup } from '../kernel/cgroup';
import { ensureTracefs } from '../kernel/tracefs';
import type { LoadedProbe, LoadSettings } from '../load/ProbeLoader';
import { ProbeLoader, ProbeLoadError, describeVariant } from '../load/ProbeLoader';
import type { Logger } from '../log';
import { addon } from '../native/addon';
import { findProbe } from '../probes';
import type { ProbeDefinition } from '../probes/ProbeDefinition';
import { selfMetricFamilies } from './selfMetrics';

export interface RunningProbe {
  loaded: LoadedProbe;
  aggregator: ProbeAggregator;
  drain: RingDrain;
}

export interface FailedProbe {
  name: string;
  reason: string;
}

export class Agent {
  readonly running: RunningProbe[] = [];
  readonly failed: FailedProbe[] = [];
  private started = false;

  constructor(
    readonly options: AgentOptions,
    private readonly log: Logger,
  ) {}

  /** Loads and attaches every selected probe. Throws only in strict mode or on bad settings. */
  start(): void {
    const tracefsNote = ensureTracefs();
    if (tracefsNote) this.log.warn(tracefsNote);
    if (this.options.bpfStats) addon.enableRunTimeStats();
    const loader = new ProbeLoader(addon.kernelFeatures());
    const settings: LoadSettings = {
      ringBytes: this.options.ringBytes,
      wakeupBytes: this.options.wakeupBytes,
      tgid: this.options.tgid,
      cgroup: this.options.cgroup === undefined ? undefined : resolveCgroup(this.options.cgroup),
    };
    try {
      for (const name of this.options.probes) this.startProbe(loader, findProbe(name)!, settings);
    } catch (error) {
      this.stop();
      throw error;
    }
    this.started = true;
  }

  private startProbe(loader: ProbeLoader, definition: ProbeDefinition, settings: LoadSettings): void {
    let loaded: LoadedProbe;
    try {
      loaded = loader.load(definition, settings);
    } catch (error) {
      if (!(error instanceof ProbeLoadError) || this.options.strict) throw error;
      this.failed.push({ name: definition.name, reason: error.message });
      this.log.warn('probe not attached', { probe: definition.name, reason: error.message });
      return;
    }
    try {
      const layout = RecordLayout.fromObject(loaded.object, definition.record.struct);
      const recordType = loaded.object.enumValues('ks_record_type')[definition.record.type];
      if (recordType === undefined)
        throw new Error(`${definition.name}: no ${definition.record.type} in enum ks_record_type`);
      const aggregator = new ProbeAggregator(definition, layout, recordType, {
        maxSeriesPerMetric: this.options.maxSeriesPerMetric,
      });
      const drain = new RingDrain(loaded.object, aggregator, {
        intervalMs: this.options.drainIntervalMs,
      });
      drain.start();
      this.running.push({ loaded, aggregator, drain });
    } catch (error) {
      loaded.object.close();
      throw error;
    }
    for (const { point, variant } of loaded.chosen) {
      this.log.info('probe attached', { probe: definition.name, point, attach: describeVariant(variant) });
    }
  }

  /** Ready: started, at least one probe attached, and every ring drained recently. */
  isReady(now = Date.now()): boolean {
    const stale = Math.max(5 * this.options.drainIntervalMs, 1000);
    return this.started && this.running.length > 0 && this.running.every((p) => now - p.drain.lastDrainMs < stale);
  }

  families(): MetricFamily[] {
    return [...selfMetricFamilies(this), ...this.running.flatMap((p) => p.aggregator.counters)];
  }

  /** Detaches and closes everything; safe to call twice. */
  stop(): void {
    for (const probe of this.running.splice(0)) {
      try {
        probe.drain.stop();
      } finally {
        probe.loaded.object.close();
      }
    }
    this.started = false;
  }
}
