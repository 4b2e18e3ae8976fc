// A probe's own settings (config file `probes.<name>`) checked against its
// definition: filters as the global ones are checked, optional labels it
// has, buckets of histograms it has.
import { histogramSlots } from '../decode/histogramSlots';
import { findProbe } from '../probes';
import { OptionError } from './OptionError';
import type { ProbeOptions } from './probeOptions';
import { bucketProblem, histogramsOf, optionalLabelsOf } from './probeOptions';
import { probeNames } from './settingChecks';
import { settingError, settingOf } from './settings';

/** Every problem of probe `probe`'s settings; `prefix` names the probe (`probes.exec`), `suffix` the file. */
export function probeOptionErrors(probe: string, options: ProbeOptions, prefix: string, suffix = ''): OptionError[] {
  const errors: OptionError[] = [];
  const definition = findProbe(probe);
  if (!definition) return [new OptionError(`${prefix}${suffix}`, probe, `a probe among ${probeNames()}`)];
  const named = (key: string): string => `${prefix}.${key}${suffix}`;
  if (definition.user) {
    // A user object reads none of the built-in probes' filters, and its labels and buckets are its config's.
    return Object.keys(options).map((key) =>
      OptionError.unknownKey(
        named(key === 'tgid' ? 'pid' : key),
        `nothing: user probe ${probe} takes no settings here`,
      ),
    );
  }
  for (const key of ['tgid', 'cgroup', 'comm'] as const) {
    const value = options[key];
    const setting = settingOf(key);
    const error = value === undefined ? undefined : settingError(setting, value, named(setting.file));
    if (error) errors.push(error);
  }
  const optional = optionalLabelsOf(definition);
  for (const label of options.labels ?? []) {
    if (!optional.includes(label)) {
      const accepted = optional.length
        ? `optional labels of ${probe}: ${optional.join(', ')}`
        : `nothing: ${probe} has no optional labels`;
      errors.push(new OptionError(named('labels'), label, accepted));
    }
  }
  const histograms = histogramsOf(definition);
  for (const [metric, bounds] of Object.entries(options.buckets ?? {})) {
    const histogram = histograms.find((h) => h.name === metric);
    if (!histogram) {
      const accepted = histograms.length
        ? `histograms of ${probe}: ${histograms.map((h) => h.name).join(', ')}`
        : `nothing: ${probe} has no histograms`;
      errors.push(OptionError.unknownKey(named(`buckets.${metric}`), accepted));
      continue;
    }
    const problem = bucketProblem(histogram, histogramSlots(definition, histogram), bounds);
    if (problem) errors.push(new OptionError(named(`buckets.${metric}`), bounds, problem));
  }
  return errors;
}
