// A whole AgentOptions checked: every setting against its SETTINGS row, the
// rules between settings, and each probe's own settings.
import { findProbe } from '../probes';
import type { AgentOptions } from './AgentOptions';
import { OptionError, OptionProblems } from './OptionError';
import { probeOptionErrors } from './probeOptionErrors';
import type { Setting, SettingNames } from './settings';
import { FLAG_NAMES, SETTINGS, settingError, settingOf } from './settings';

/** Settings that may be unset: filters (every task, every namespace), OTLP off, no node name. */
const OPTIONAL_SETTINGS: readonly string[] = [
  'tgid',
  'cgroup',
  'comm',
  'netns',
  'otlpEndpoint',
  'nodeName',
  'kubeconfig',
  'webConfig',
];

/**
 * Checks every setting and the rules between settings; throws OptionError
 * (one problem) or OptionErrors (several). `names` says how to call each key
 * in messages (the flag by default; the config key or variable it came from).
 */
export function validateOptions(options: AgentOptions, names: SettingNames = FLAG_NAMES): AgentOptions {
  const problems = new OptionProblems();
  const name = (setting: Setting): string => names[setting.key] ?? setting.flag;
  for (const setting of SETTINGS) {
    const value = options[setting.key];
    if (value === undefined && OPTIONAL_SETTINGS.includes(setting.key)) continue;
    const error = settingError(setting, value, name(setting));
    if (error) problems.add(() => error);
  }
  if (problems.count === 0 && options.wakeupBytes > options.ringBytes) {
    problems.add(
      () =>
        new OptionError(
          name(settingOf('wakeupBytes')),
          options.wakeupBytes,
          `an integer from 1 to the ring size (${options.ringBytes})`,
        ),
    );
  }
  for (const [probe, probeOptions] of Object.entries(options.probeOptions)) {
    probeOptionErrors(probe, probeOptions, `probes.${probe}`, '', problems);
  }
  OptionProblems.throwIfAny([problems]);
  return withoutSubsetProbes(options);
}

/** A probe that is part of another selected probe (`exec` of `process`) would count twice: only the whole runs. */
function withoutSubsetProbes(options: AgentOptions): AgentOptions {
  const selected = new Set(options.probes);
  const probes = [...selected].filter((name) => !selected.has(findProbe(name)?.subsetOf ?? ''));
  return probes.length === options.probes.length ? options : { ...options, probes };
}
