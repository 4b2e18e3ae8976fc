// What `kernscope trace` prints when it ends: how long it ran, events and
// losses per probe, the busiest commands, and per probe the latency of its
// events where it measures one (mean and max of `latency_ms`).
import type { TraceEvent } from './TraceFormat';
import type { TraceTotals } from './TraceSession';

const TOP_COMMANDS = 10;

interface Latency {
  count: number;
  sumMs: number;
  maxMs: number;
}

export class TraceSummary {
  private readonly commands = new Map<string, number>();
  private readonly latencies = new Map<string, Latency>();

  add(event: TraceEvent): void {
    const key = `${event.comm} (${event.probe})`;
    this.commands.set(key, (this.commands.get(key) ?? 0) + 1);
    const ms = event.fields.latency_ms;
    if (typeof ms !== 'number') return;
    const latency = this.latencies.get(event.probe) ?? { count: 0, sumMs: 0, maxMs: 0 };
    latency.count++;
    latency.sumMs += ms;
    latency.maxMs = Math.max(latency.maxMs, ms);
    this.latencies.set(event.probe, latency);
  }

  text(totals: TraceTotals, seconds: number): string {
    const lines = [`--- ${seconds.toFixed(1)} s traced`];
    for (const [probe, events] of totals.events) {
      const lost = totals.lost.get(probe) ?? 0;
      const latency = this.latencies.get(probe);
      const timing = latency?.count
        ? `, latency mean ${(latency.sumMs / latency.count).toFixed(3)} ms max ${latency.maxMs.toFixed(3)} ms`
        : '';
      lines.push(`${probe}: ${events} events, ${lost} lost${timing}`);
    }
    if (totals.invalid > 0) lines.push(`${totals.invalid} records of an unexpected type or version (a bug: report it)`);
    const top = [...this.commands].sort((a, b) => b[1] - a[1]).slice(0, TOP_COMMANDS);
    if (top.length > 0) {
      lines.push('top commands:');
      for (const [command, count] of top) lines.push(`  ${String(count).padStart(8)}  ${command}`);
    }
    return lines.join('\n');
  }
}
