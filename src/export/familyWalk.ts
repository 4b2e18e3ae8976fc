// The walk every exposition format (text, protobuf) makes over the agent's
// families at scrape time: each family prepared, then its samples handed to
// the format, with a yield to the event loop every YIELD_EVERY lines' worth
// of work, so ring drains (timer and readiness callbacks) run during a long
// scrape. A scrape of 10k series through prom-client's registry held the
// event loop for 120-170 ms, long enough for a 4 MiB ring to overflow at 1M
// records/s (bench/README.md, scrape table).
import { setImmediate as yieldToLoop } from 'node:timers/promises';

import type { HistogramFamily, HistogramSample, MetricFamily, Sample, ScalarFamily } from '../aggregate/MetricFamily';

/**
 * Text lines' worth of work between two yields, about a millisecond: a family's HELP and TYPE are two, a
 * scalar sample one, a histogram sample one per bucket plus its sum and count.
 */
export const YIELD_EVERY = 2000;

/** What a format does with what the walk hands it, in exposition order. */
export interface FamilyVisitor {
  family(family: MetricFamily): void;
  scalar(family: ScalarFamily, sample: Sample): void;
  histogram(family: HistogramFamily, sample: HistogramSample): void;
  /** After the family's last sample. */
  familyEnd?(family: MetricFamily): void;
  /** Before each yield: everything visited so far may be made final. */
  pause?(): void;
}

/** Hands `families` to `visitor`, yielding to the event loop as it goes. */
export async function walkFamilies(families: readonly MetricFamily[], visitor: FamilyVisitor): Promise<void> {
  let work = 0;
  const pause = async (): Promise<void> => {
    visitor.pause?.();
    work = 0;
    await yieldToLoop();
  };
  for (const family of families) {
    await family.prepare?.(yieldToLoop);
    visitor.family(family);
    work += 2;
    // The test is inline, not in a helper awaited per sample: that would cost a microtask a series.
    if (family.type === 'histogram') {
      for (const sample of family.collect()) {
        visitor.histogram(family, sample);
        work += sample.counts.length + 2;
        if (work >= YIELD_EVERY) await pause();
      }
    } else {
      for (const sample of family.collect()) {
        visitor.scalar(family, sample);
        if (++work >= YIELD_EVERY) await pause();
      }
    }
    visitor.familyEnd?.(family);
  }
}
