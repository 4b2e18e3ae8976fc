// What every labelled family is built with, record-fed or map-read alike.
import type { Labels } from './MetricFamily';
import type { SeriesLimits } from './SeriesPolicy';

export interface FamilySettings {
  limits: SeriesLimits;
  /** cgroup id -> namespace, pod, container, for metrics with a `cgroupField`; absent: attribution off. */
  attribution?: (cgroupId: bigint) => Labels;
}
