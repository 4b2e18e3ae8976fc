// What every exporter reads: a named family of series, materialised only when
// an exporter asks (scrape or export time), never per record.

export type MetricType = 'counter' | 'gauge';

export type Labels = Record<string, string>;

export interface Sample {
  labels: Labels;
  value: number;
}

export interface MetricFamily {
  /** Prometheus name, e.g. `kernscope_process_execs_total`. */
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  collect(): Sample[];
}

/** A family whose samples are computed on demand by a function. */
export class ComputedFamily implements MetricFamily {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    private readonly compute: () => Sample[],
  ) {}

  collect(): Sample[] {
    return this.compute();
  }
}
