// A probe as the agent runs it, or why it could not: what the agent and its
// self metrics share.
import type { ProbeAggregator } from '../aggregate/ProbeAggregator';
import type { MetricFamily } from '../aggregate/MetricFamily';
import type { RingDrain } from '../drain/RingDrain';
import type { LoadedProbe } from '../load/ProbeLoader';

export interface RunningProbe {
  loaded: LoadedProbe;
  /** Present when the probe emits ring records. */
  records?: { aggregator: ProbeAggregator; drain: RingDrain };
  /** Every metric family of the probe, from records and from maps. */
  families: MetricFamily[];
}

export interface FailedProbe {
  name: string;
  reason: string;
}
