// How `kernscope trace` prints an event: an aligned table row (time, probe
// when several run, pid, comm, then the probe's own columns) or one JSON
// object per line. Records carry CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns);
// the wall-clock time is that plus the offset between the two clocks.
import type { DecodedRecord, TraceColumn, TraceDefinition } from '../probes/ProbeDefinition';

/** A traced event, decoded and named. */
export interface TraceEvent {
  probe: string;
  /** Unix ms. */
  timeMs: number;
  pid: number;
  comm: string;
  /** The probe's columns, by JSON name. */
  fields: Record<string, string | number>;
}

/** Wall-clock ms of a CLOCK_MONOTONIC ns timestamp; Node's hrtime is CLOCK_MONOTONIC on Linux. */
export function monotonicToWallMs(monotonicNs: number, nowMs = Date.now(), nowMonotonicNs = hrtimeNs()): number {
  return nowMs - (nowMonotonicNs - monotonicNs) / 1e6;
}

function hrtimeNs(): number {
  return Number(process.hrtime.bigint());
}

/** HH:MM:SS.mmm, local time. */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

export function toEvent(probe: string, trace: TraceDefinition, record: DecodedRecord, timeMs: number): TraceEvent {
  const fields: Record<string, string | number> = {};
  for (const column of trace.columns) fields[column.name] = column.value(record);
  return {
    probe,
    timeMs,
    pid: (record[trace.pidField ?? 'hdr.tgid'] as number | undefined) ?? 0,
    comm: (record.comm as string | undefined) ?? '',
    fields,
  };
}

export function jsonLine(event: TraceEvent): string {
  return JSON.stringify({
    time: new Date(event.timeMs).toISOString(),
    probe: event.probe,
    pid: event.pid,
    comm: event.comm,
    ...event.fields,
  });
}

const TIME_WIDTH = 12;
const PID_WIDTH = 7;
const COMM_WIDTH = 16;

/** The table of one or more probes: columns common to all, then each probe's own (probes differ after comm). */
export class TraceTable {
  private readonly probeWidth: number;

  constructor(private readonly traces: ReadonlyMap<string, TraceDefinition>) {
    this.probeWidth = traces.size > 1 ? Math.max(5, ...[...traces.keys()].map((p) => p.length)) : 0;
  }

  /** One heading line per probe (one line when a single probe runs). */
  headings(): string[] {
    return [...this.traces].map(([probe, trace]) =>
      this.line('TIME', probe === '' ? '' : 'PROBE', 'PID', 'COMM', trace.columns, (c) => c.heading),
    );
  }

  row(event: TraceEvent): string {
    const trace = this.traces.get(event.probe)!;
    const values = event.fields;
    return this.line(clockTime(event.timeMs), event.probe, String(event.pid), event.comm, trace.columns, (c) =>
      String(values[c.name]),
    );
  }

  private line(
    time: string,
    probe: string,
    pid: string,
    comm: string,
    columns: TraceColumn[],
    text: (column: TraceColumn) => string,
  ): string {
    const cells = [time.padEnd(TIME_WIDTH)];
    if (this.probeWidth) cells.push(probe.padEnd(this.probeWidth));
    cells.push(pid.padStart(PID_WIDTH), comm.padEnd(COMM_WIDTH));
    for (const column of columns) {
      const value = text(column);
      cells.push(column.last ? value : value.padEnd(Math.max(column.width, column.heading.length)));
    }
    return cells.join(' ').trimEnd();
  }
}
