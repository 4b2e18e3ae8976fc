// A user program's attach kind and target from its SEC() name, as libbpf's
// auto-attach reads them (libbpf's section_defs): `tp_btf/sched_switch`,
// `raw_tp/sched_switch`, `tracepoint/sched/sched_switch`, `fentry/tcp_connect`,
// `kprobe/tcp_connect`. The loader then attaches it as it attaches a built-in
// variant, with the same feature check and skip reasons.
import type { AttachKind } from '../native/addon';
import type { AttachVariant } from '../probes/ProbeDefinition';

/** Section prefixes, longest first where one begins another, and the kind each attaches as. */
const PREFIXES: readonly [string, AttachKind][] = [
  ['tp_btf/', 'tp_btf'],
  ['raw_tracepoint/', 'raw_tp'],
  ['raw_tp/', 'raw_tp'],
  ['tracepoint/', 'tracepoint'],
  ['tp/', 'tracepoint'],
  ['fentry/', 'fentry'],
  ['fexit/', 'fexit'],
  ['kretprobe/', 'kretprobe'],
  ['kprobe/', 'kprobe'],
];

/** Kinds whose target is in the section name; the others attach to the BTF id libbpf resolved at load. */
const TARGETED: readonly AttachKind[] = ['raw_tp', 'tracepoint', 'kprobe', 'kretprobe'];

export const SUPPORTED_SECTIONS = PREFIXES.map(([prefix]) => `${prefix}...`).join(', ');

/** The variant that attaches `program` by its section, or undefined when kernscope cannot attach that section. */
export function variantOfSection(program: string, section: string): AttachVariant | undefined {
  for (const [prefix, kind] of PREFIXES) {
    if (!section.startsWith(prefix)) continue;
    const target = section.slice(prefix.length);
    if (target === '' || (kind === 'tracepoint' && !/^[^/]+\/[^/]+$/.test(target))) return undefined;
    return TARGETED.includes(kind) ? { kind, program, target } : { kind, program };
  }
  return undefined;
}
