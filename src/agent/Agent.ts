// The agent: loads the selected probes, drains their rings into aggregators
// and offers every metric family to the exporters. stop() leaves nothing
// loaded or attached.
import { ProbeAggregator } from '../aggregate/ProbeAggregator';
import type { FamilySettings } from '../aggregate/FamilySettings';
import { mapFamilies } from '../aggregate/MapMetrics';
import { userMapFamilies } from '../aggregate/UserMapMetrics';
import type { Labels, MetricFamily } from '../aggregate/MetricFamily';
import type { AgentOptions } from '../config/AgentOptions';
import { effectiveProbeOptions } from '../config/AgentOptions';
import type { EffectiveProbeOptions } from '../config/probeOptions';
import { withHistogramSchema, withOptionalLabels } from '../config/probeOptions';
import { ResolvedRecord } from '../decode/ResolvedRecord';
import { RingDrain } from '../drain/RingDrain';
import { Attribution } from '../enrich/Attribution';
import { CgroupPaths } from '../enrich/CgroupPaths';
import { PodWatch, inCluster } from '../enrich/PodWatch';
import { cgroup2Mount, resolveCgroup } from '../kernel/cgroup';
import { resolveNetns } from '../kernel/netns';
import { ensureTracefs } from '../kernel/tracefs';
import type { LoadedProbe, LoadSettings } from '../load/ProbeLoader';
import { ProbeLoader, ProbeLoadError, describeVariant } from '../load/ProbeLoader';
import type { Logger } from '../log';
import { addon } from '../native/addon';
import { findProbe } from '../probes';
import type { ProbeDefinition } from '../probes/ProbeDefinition';
import type { FailedProbe, RunningProbe } from './RunningProbe';
import { selfMetricFamilies } from './selfMetrics';

export class Agent {
  readonly running: RunningProbe[] = [];
  readonly failed: FailedProbe[] = [];
  private started = false;
  /** cgroup id -> namespace/pod/container; absent when attribution is off or cgroup v2 is missing. */
  private attribution?: Attribution;
  private podWatch?: PodWatch;

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
    if (this.options.attribution) this.startAttribution();
    try {
      for (const name of this.options.probes) {
        // Each probe has its own filters, optional labels and buckets.
        const probe = effectiveProbeOptions(this.options, name);
        const settings: LoadSettings = {
          ringBytes: this.options.ringBytes,
          wakeupBytes: this.options.wakeupBytes,
          tgid: probe.tgid,
          cgroup: probe.cgroup === undefined ? undefined : resolveCgroup(probe.cgroup),
          comm: probe.comm,
          netns: this.options.netns === undefined ? undefined : resolveNetns(this.options.netns),
          attribution: this.attribution !== undefined,
          latencyEvery: this.options.syscallLatencyEvery,
        };
        const definition = withHistogramSchema(findProbe(name)!, this.options.histogramSchema);
        this.startProbe(loader, withOptionalLabels(definition, probe.labels), settings, probe);
      }
    } catch (error) {
      this.stop();
      throw error;
    }
    this.started = true;
  }

  private startProbe(
    loader: ProbeLoader,
    definition: ProbeDefinition,
    settings: LoadSettings,
    probe: EffectiveProbeOptions,
  ): void {
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
      const records = this.startRecords(loaded);
      const families: MetricFamily[] = [
        ...(records?.aggregator.counters ?? []),
        ...mapFamilies(loaded.object, definition.mapMetrics, this.familySettings(), probe.buckets),
        ...userMapFamilies(loaded.object, definition.user?.metrics ?? [], this.familySettings()),
      ];
      this.running.push({ loaded, records, families });
    } catch (error) {
      loaded.object.close();
      throw error;
    }
    for (const { point, variant } of loaded.chosen) {
      this.log.info('probe attached', { probe: definition.name, point, attach: describeVariant(variant) });
    }
  }

  /** The ring drain of a probe whose records feed metrics (records only traced are left off). */
  private startRecords(loaded: LoadedProbe): RunningProbe['records'] {
    const { definition, object } = loaded;
    if (definition.recordMetrics.length === 0) return undefined;
    if (!definition.record) throw new Error(`${definition.name}: record metrics, but no ring record named`);
    const record = ResolvedRecord.resolve(object, definition.name, definition.record);
    const aggregator = new ProbeAggregator(definition, record, this.familySettings());
    const drain = new RingDrain(object, aggregator, { intervalMs: this.options.drainIntervalMs });
    drain.start();
    return { aggregator, drain };
  }

  /** One series policy and attribution for every family, record-fed or map-read. */
  private familySettings(): FamilySettings {
    const attribution = this.attribution;
    return {
      limits: { maxSeries: this.options.maxSeriesPerMetric, ttlMs: this.options.seriesTtlMs },
      attribution: attribution && ((id) => attribution.labels(id)),
    };
  }

  /**
   * cgroup paths always (no API needed); pod and container names too when
   * running in a cluster with a node name, once the first pod list arrives.
   */
  private startAttribution(): void {
    const mount = cgroup2Mount();
    if (!mount) {
      this.log.warn('no cgroup v2 mount: metrics carry no namespace/pod/container labels');
      return;
    }
    this.attribution = new Attribution(new CgroupPaths(mount));
    const { kubeconfig } = this.options;
    if (!kubeconfig && !inCluster()) return;
    const node = this.options.nodeName;
    if (!node) {
      this.log.warn('in a cluster without --node-name (NODE_NAME from the downward API): pods labelled by UID only');
      return;
    }
    PodWatch.start(node, this.log, kubeconfig).then(
      (watch) => {
        if (!this.attribution) return watch.stop(); // stopped meanwhile
        this.podWatch = watch;
        this.attribution.usePods(watch);
      },
      (error: unknown) => this.log.warn('no pod watch: pods labelled by UID only', { error: String(error) }),
    );
  }

  /** Ready: started, at least one probe attached, and every ring empty or drained recently. */
  isReady(now = Date.now()): boolean {
    const stale = Math.max(5 * this.options.drainIntervalMs, 1000);
    const drained = (p: RunningProbe): boolean =>
      !p.records || !p.records.drain.pending || now - p.records.drain.lastDrainMs < stale;
    return this.started && this.running.length > 0 && this.running.every(drained);
  }

  /** A series' labels as OTLP attributes: attribution's as k8s.* names (see Attribution.otelAttributes). */
  otelAttributes(labels: Labels): Labels {
    return this.attribution?.otelAttributes(labels) ?? labels;
  }

  families(): MetricFamily[] {
    // Probe families first: collecting them updates the overflow counts the self metrics report.
    return [...this.running.flatMap((p) => p.families), ...selfMetricFamilies(this)];
  }

  /** Detaches and closes everything; safe to call twice. */
  stop(): void {
    this.podWatch?.stop();
    this.podWatch = undefined;
    this.attribution = undefined;
    for (const probe of this.running.splice(0)) {
      try {
        probe.records?.drain.stop();
      } finally {
        probe.loaded.object.close();
      }
    }
    this.started = false;
  }
}
