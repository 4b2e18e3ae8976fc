// `kernscope probes`: each probe and the variant this kernel would use, or why
// none works. The verdict comes from really loading and attaching each probe
// (then detaching), so it is the kernel's own answer.
import { parseArgs } from 'node:util';

import { ensureTracefs } from '../kernel/tracefs';
import { ProbeLoader, ProbeLoadError, describeVariant } from '../load/ProbeLoader';
import type { VariantRejection } from '../load/ProbeLoader';
import { addon } from '../native/addon';
import { useProbeDirs } from '../config/loadConfig';
import { DEFAULT_PROBES, allProbes, findProbe } from '../probes';
import type { AttachVariant, ProbeCost } from '../probes/ProbeDefinition';
import { UsageError } from './UsageError';
import { missingBpfPrivileges } from '../kernel/privileges';
import { remedyFor } from '../kernel/remedies';

export const PROBES_HELP = `Usage: kernscope probes [--json] [--probe-dir DIR]...

Lists the built-in probes (and the user probes of each --probe-dir DIR, or
KERNSCOPE_PROBE_DIRS) and, for each, the attach variant this kernel would
use, or why none works, and for each variant it cannot use the reason and a
one-line fix; and its cost class: what its programs run on (per-event,
per-switch, per-syscall) and whether \`kernscope run\` runs it by default.
Loads and attaches each probe briefly (needs root).

Examples:
  kernscope probes                     what this kernel supports
  kernscope probes --json | jq '.probes[] | select(.supported | not)'
  kernscope probes --probe-dir /etc/kernscope/probes   with these user probes
`;

/** How each cost class reads in the listing (measured figures: README, "What each probe costs"). */
const COST_TEXT: Record<ProbeCost, string> = {
  'per-event': 'per event (a few per request at most)',
  'per-switch': 'per context switch',
  'per-syscall': 'per system call of every task (the costliest)',
  user: "a user probe's: whatever its programs attach to",
};

/** Whether `kernscope run` runs the probe unless told otherwise, and how. */
function inDefault(name: string): string {
  if (!DEFAULT_PROBES.includes(name)) return 'not in the default set';
  const whole = findProbe(name)?.subsetOf;
  return whole ? `in the default set, as part of ${whole}` : 'in the default set';
}

interface ProbeReport {
  probe: string;
  summary: string;
  cost: ProbeCost;
  /** In the set `kernscope run` runs without --probes. */
  default: boolean;
  supported: boolean;
  attach: (AttachVariant & { point: string })[];
  rejected: { point: string; kind: string; reason: string; fix?: string }[];
  reason?: string;
}

function rejectedOf(rejected: VariantRejection[]): ProbeReport['rejected'] {
  return rejected.map((r) => ({ point: r.point, kind: r.variant.kind, reason: r.reason, fix: remedyFor(r.reason) }));
}

export function probeReports(): { features: ReturnType<typeof addon.kernelFeatures>; probes: ProbeReport[] } {
  ensureTracefs();
  const features = addon.kernelFeatures();
  const loader = new ProbeLoader(features);
  const probes = allProbes().map((definition): ProbeReport => {
    const base = {
      probe: definition.name,
      summary: definition.summary,
      cost: definition.cost,
      default: DEFAULT_PROBES.includes(definition.name),
    };
    try {
      const loaded = loader.load(definition, { ringBytes: 4096, wakeupBytes: 4096 });
      loaded.object.close();
      return {
        ...base,
        supported: true,
        attach: loaded.chosen.map(({ point, variant }) => ({ point, ...variant })),
        rejected: rejectedOf(loaded.rejected),
      };
    } catch (error) {
      if (!(error instanceof ProbeLoadError)) throw error;
      return { ...base, supported: false, attach: [], rejected: rejectedOf(error.rejected), reason: error.message };
    }
  });
  return { features, probes };
}

export function probesCommand(argv: string[]): number {
  let json: boolean | undefined;
  let probeDirs: string[] | undefined;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        json: { type: 'boolean' },
        'probe-dir': { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(PROBES_HELP);
      return 0;
    }
    json = values.json;
    probeDirs = values['probe-dir'];
  } catch (error) {
    throw new UsageError(`${(error as Error).message}; see kernscope probes --help`);
  }
  useProbeDirs({ 'probe-dir': probeDirs }); // bad directories or probes throw: one line each, exit 2
  const missing = missingBpfPrivileges();
  if (missing) throw new UsageError(missing, 1);

  const report = probeReports();
  if (json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  const { features } = report;
  const kinds = Object.entries(features.attach)
    .map(([kind, v]) => `${kind}=${v.ok ? 'yes' : 'no'}`)
    .join(' ');
  process.stdout.write(
    `kernel: btf=${features.btf ? 'yes' : 'no'} ringbuf=${features.ringbuf ? 'yes' : 'no'} ${kinds}\n\n`,
  );
  const width = Math.max(...report.probes.map((p) => p.probe.length)) + 1;
  for (const p of report.probes) {
    const status = p.supported ? p.attach.map(describeVariant).join(', ') : 'UNSUPPORTED';
    process.stdout.write(
      `${p.probe.padEnd(width)} ${status}\n    ${p.summary}\n    cost: ${COST_TEXT[p.cost]}; ${inDefault(p.probe)}\n`,
    );
    // One line per kind and reason, with the attach points it concerns.
    const skipped = new Map<string, { points: string[]; fix?: string }>();
    for (const r of p.rejected) {
      const key = `${r.kind}: ${r.reason}`;
      const entry = skipped.get(key) ?? { points: [], fix: r.fix };
      entry.points.push(r.point);
      skipped.set(key, entry);
    }
    for (const [key, { points, fix }] of skipped) {
      process.stdout.write(`    skipped ${key} (${points.join(', ')})${fix ? `\n      fix: ${fix}` : ''}\n`);
    }
  }
  return 0;
}
