// A probe's own settings (config file `probes.<name>`) checked against its
// definition: filters as the global ones are checked, optional labels it
// has, buckets of histograms it has.
import { findProbe } from '../probes';
import { OptionError, OptionProblems } from './OptionError';
import type { ProbeOptions } from './probeOptions';
import { bucketProblem, histogramsOf, optionalLabelsOf } from './probeOptions';
import { probeNames } from './settingChecks';
import { settingError, settingOf } from './settings';

/**
 * Adds every problem of probe `probe`'s settings to `problems` (and returns
 * it); `prefix` names the probe (`probes.exec`), `suffix` the file.
 */
export function probeOptionErrors(
  probe: string,
  options: ProbeOptions,
  prefix: string,
  suffix = '',
  problems = new OptionProblems(),
): OptionProblems {
  const definition = findProbe(probe);
  if (!definition) {
    problems.add(() => new OptionError(`${prefix}${suffix}`, probe, `a probe among ${probeNames()}`));
    return problems;
  }
  const named = (key: string): string => `${prefix}.${key}${suffix}`;
  if (definition.user) {
    // A user object reads none of the built-in probes' filters, and its labels and buckets are its config's.
    for (const key of Object.keys(options)) {
      problems.add(() =>
        OptionError.unknownKey(
          named(key === 'tgid' ? 'pid' : key),
          `nothing: user probe ${probe} takes no settings here`,
        ),
      );
    }
    return problems;
  }
  for (const key of ['tgid', 'cgroup', 'comm'] as const) {
    const value = options[key];
    const setting = settingOf(key);
    const error = value === undefined ? undefined : settingError(setting, value, named(setting.file));
    if (error) problems.add(() => error);
  }
  const optional = optionalLabelsOf(definition);
  for (const label of options.labels ?? []) {
    if (!optional.includes(label)) {
      const accepted = optional.length
        ? `optional labels of ${probe}: ${optional.join(', ')}`
        : `nothing: ${probe} has no optional labels`;
      problems.add(() => new OptionError(named('labels'), label, accepted));
    }
  }
  const histograms = histogramsOf(definition);
  for (const [metric, bounds] of Object.entries(options.buckets ?? {})) {
    const histogram = histograms.find((h) => h.name === metric);
    if (!histogram) {
      const accepted = histograms.length
        ? `histograms of ${probe}: ${histograms.map((h) => h.name).join(', ')}`
        : `nothing: ${probe} has no histograms`;
      problems.add(() => OptionError.unknownKey(named(`buckets.${metric}`), accepted));
      continue;
    }
    const problem = bucketProblem(bounds);
    if (problem) problems.add(() => new OptionError(named(`buckets.${metric}`), bounds, problem));
  }
  return problems;
}
