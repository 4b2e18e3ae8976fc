// Where settings come from, in increasing precedence: the YAML config file
// (--config FILE or KERNSCOPE_CONFIG), KERNSCOPE_* environment variables,
// command-line flags. Each source is read into a layer, every bad value
// (and every unknown key) becomes one OptionError naming the key as that
// source spells it, and the layers are merged over DEFAULT_OPTIONS.
import { allProbes, useUserProbes } from '../probes';
import { UserProbeError } from '../userprobes/UserProbeError';
import { userProbesIn } from '../userprobes/userProbes';
import { YamlFileError } from '../yamlfile/YamlFileError';
import { parseYamlFile, readYamlFile } from '../yamlfile/yamlFile';
import type { AgentOptions } from './AgentOptions';
import { DEFAULT_OPTIONS } from './AgentOptions';
import { OptionError, OptionErrors, OptionProblems } from './OptionError';
import { probeOptionErrors } from './probeOptionErrors';
import type { ProbeOptions } from './probeOptions';
import type { Setting, SettingNames } from './settings';
import { SETTINGS, settingError, settingOf } from './settings';
import { validateOptions } from './validateOptions';

/** Values read from one source, not yet merged. */
export interface Layer {
  /** `config file PATH`, `environment` or `flags`. */
  source: string;
  values: Partial<Record<Setting['key'], unknown>>;
  /** How this source names each key it set, for messages. */
  names: SettingNames;
  probeOptions?: Record<string, ProbeOptions>;
  problems: OptionProblems;
}

export interface ResolvedOptions {
  options: AgentOptions;
  /** The sources that set something, e.g. `config file /etc/kernscope.yaml`, `environment (KERNSCOPE_LISTEN)`. */
  sources: string[];
}

/** The config file's path, when --config is not given. */
export const CONFIG_ENV = 'KERNSCOPE_CONFIG';
const FILTER_KEYS = ['tgid', 'cgroup', 'comm'] as const;
const PROBE_KEYS = ['pid', 'cgroup', 'comm', 'labels', 'buckets'];

/** Milliseconds of `600`, `90s`, `10m`, `1h`, `500ms` (no unit: seconds), or undefined. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { ms: 1, s: 1000, m: 60000, h: 3600000 }[match[2] ?? 's'] ?? 1000;
  return Number(match[1]) * unit;
}

export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  for (const [unit, size] of [
    ['h', 3600000],
    ['m', 60000],
    ['s', 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** A setting from a string (environment variable or flag); unconvertible text is kept and fails the check. */
function fromString(setting: Setting, raw: string): unknown {
  switch (setting.kind) {
    case 'integer':
      return /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
    case 'boolean': {
      const text = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(text)) return true;
      if (['false', '0', 'no', 'off'].includes(text)) return false;
      return raw;
    }
    case 'list':
      return raw
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
    case 'duration':
      return parseDuration(raw) ?? raw;
    default:
      return raw;
  }
}

/** A setting from a YAML value: numbers, booleans and lists come typed; durations may be `10m` or seconds. */
function fromYaml(setting: Setting, value: unknown): unknown {
  if (setting.kind === 'duration') {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value * 1000;
    if (typeof value === 'string') return parseDuration(value) ?? value;
  }
  return value;
}

function emptyLayer(source: string): Layer {
  return { source, values: {}, names: {}, problems: new OptionProblems() };
}

/** Stores `value` in `layer` when its check passes, or records the error (showing `shown`, as written). */
function set(layer: Layer, setting: Setting, value: unknown, name: string, shown: unknown): void {
  const error = settingError(setting, value, name);
  if (error) {
    layer.problems.add(() => new OptionError(name, shown, error.accepted));
    return;
  }
  layer.values[setting.key] = value;
  layer.names[setting.key] = name;
}

function plainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `probes.<name>: {pid, cgroup, comm, labels, buckets}` from the file, checked against the probe. */
function probeFromYaml(layer: Layer, probe: string, raw: unknown, where: string): ProbeOptions | undefined {
  const prefix = `probes.${probe}`;
  if (raw === null || raw === undefined) return {};
  if (!plainObject(raw)) {
    layer.problems.add(
      () => new OptionError(`${prefix}${where}`, raw, `a mapping of ${PROBE_KEYS.join(', ')} (or nothing)`),
    );
    return undefined;
  }
  const options: ProbeOptions = {};
  let valid = true;
  for (const [key, value] of Object.entries(raw)) {
    const name = `${prefix}.${key}${where}`;
    switch (key) {
      case 'pid':
        options.tgid = value as number;
        break;
      case 'cgroup':
      case 'comm':
        options[key] = value as string;
        break;
      case 'labels':
        if (Array.isArray(value) && value.every((v) => typeof v === 'string')) options.labels = value;
        else {
          layer.problems.add(() => new OptionError(name, value, 'a list of optional label names'));
          valid = false;
        }
        break;
      case 'buckets':
        if (plainObject(value)) options.buckets = value as Record<string, number[]>;
        else {
          layer.problems.add(() => new OptionError(name, value, 'a mapping of histogram metric name to bucket bounds'));
          valid = false;
        }
        break;
      default:
        layer.problems.add(() => OptionError.unknownKey(name, `one of ${PROBE_KEYS.join(', ')}`));
        valid = false;
    }
  }
  const before = layer.problems.count;
  probeOptionErrors(probe, options, prefix, where, layer.problems);
  return valid && layer.problems.count === before ? options : undefined;
}

/** The `probes:` key: a list of names, or a mapping of name to that probe's settings. */
function probesFromYaml(layer: Layer, raw: unknown, where: string): void {
  const setting = settingOf('probes');
  if (Array.isArray(raw)) {
    set(layer, setting, raw, `probes${where}`, raw);
    return;
  }
  if (!plainObject(raw)) {
    layer.problems.add(
      () => new OptionError(`probes${where}`, raw, `${setting.accepted}, or a mapping of probe name to its settings`),
    );
    return;
  }
  const known = allProbes().map((p) => p.name);
  layer.probeOptions = {};
  for (const [probe, options] of Object.entries(raw)) {
    if (!known.includes(probe)) {
      layer.problems.add(() => OptionError.unknownKey(`probes.${probe}${where}`, `probes among ${known.join(', ')}`));
      continue;
    }
    const parsed = probeFromYaml(layer, probe, options, where);
    if (parsed) layer.probeOptions[probe] = parsed;
  }
  const enabled = Object.keys(raw).filter((probe) => known.includes(probe));
  set(layer, setting, enabled, `probes${where}`, enabled);
}

/** A YAML file's value: read with readYamlFile, parsed with parseYamlFile (and throwing as they do). */
type Load = (path: string) => unknown;
const loadYaml: Load = (path) => parseYamlFile(readYamlFile(path), path);

/**
 * The config file as a layer; `from` names where its path came from
 * (`--config`, KERNSCOPE_CONFIG), `load` reads and parses it.
 */
export function fileLayer(path: string, from: string, load = loadYaml): Layer {
  const layer = emptyLayer(`config file ${path}`);
  let root: unknown;
  try {
    root = load(path);
  } catch (error) {
    // YamlFileError: too big, not YAML, nested too deep, a duplicate key, an alias bomb; else open/read's errno.
    const message =
      error instanceof YamlFileError
        ? error.verb === 'read'
          ? `cannot read ${from} ${path}: ${error.problem}`
          : `cannot parse ${path}: ${error.problem}`
        : `cannot read ${from} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
    layer.problems.add(() => new OptionError(from, path, 'a readable YAML file', message));
    return layer;
  }
  if (root === null || root === undefined) return layer; // empty file: nothing set
  const where = ` in ${path}`;
  if (!plainObject(root)) {
    layer.problems.add(() => new OptionError(`the top level${where}`, root, 'a mapping of settings'));
    return layer;
  }
  for (const [key, value] of Object.entries(root)) {
    if (key === 'probes') {
      probesFromYaml(layer, value, where);
      continue;
    }
    const setting = SETTINGS.find((s) => s.file === key);
    if (!setting) {
      layer.problems.add(() =>
        OptionError.unknownKey(`${key}${where}`, `one of ${SETTINGS.map((s) => s.file).join(', ')}`),
      );
      continue;
    }
    set(layer, setting, fromYaml(setting, value), `${key}${where}`, value);
  }
  return layer;
}

/**
 * KERNSCOPE_* variables as a layer; empty ones count as unset, unknown ones
 * are errors. Only the values of known names are read: each read of
 * process.env searches the whole environment (getenv), so that
 * Object.entries(process.env) takes 1.6 s for 20,000 variables, its keys 0.6 s.
 */
export function envLayer(env: NodeJS.ProcessEnv): Layer {
  const layer = emptyLayer('environment');
  for (const name of Object.keys(env)) {
    if (!name.startsWith('KERNSCOPE_') || name === CONFIG_ENV) continue;
    const setting = SETTINGS.find((s) => s.env === name);
    if (!setting) {
      layer.problems.add(() =>
        OptionError.unknownKey(
          `environment variable ${name}`,
          `one of ${[CONFIG_ENV, ...SETTINGS.map((s) => s.env)].join(', ')}`,
        ),
      );
      continue;
    }
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    set(layer, setting, fromString(setting, raw), name, raw);
  }
  return layer;
}

/** Parsed flags (parseArgs values, keyed without the dashes) as a layer; a repeated flag's values join as a list. */
export function flagLayer(flags: Flags): Layer {
  const layer = emptyLayer('flags');
  for (const setting of SETTINGS) {
    const given = flags[setting.flag.slice(2)];
    if (given === undefined) continue;
    const raw = Array.isArray(given) ? given.join(',') : given;
    set(layer, setting, typeof raw === 'boolean' ? raw : fromString(setting, raw), setting.flag, raw);
  }
  return layer;
}

/** The config file (--config or KERNSCOPE_CONFIG), environment and flag layers, in increasing precedence. */
function readLayers(
  flags: Flags,
  env: NodeJS.ProcessEnv,
  load: Load,
): { layers: Layer[]; environment: Layer; command: Layer } {
  const configFlag = flags.config;
  const configPath = typeof configFlag === 'string' ? configFlag : env[CONFIG_ENV] || undefined;
  const layers: Layer[] = [];
  if (configPath !== undefined) {
    const from = typeof configFlag === 'string' ? '--config' : CONFIG_ENV;
    if (configPath === '') {
      const layer = emptyLayer('--config');
      layer.problems.add(() => new OptionError(from, '', 'a file path'));
      layers.push(layer);
    } else layers.push(fileLayer(configPath, from, load));
  }
  const environment = envLayer(env);
  const command = flagLayer(flags);
  layers.push(environment, command);
  return { layers, environment, command };
}

/** parseArgs values, keyed without the dashes. */
export type Flags = Record<string, string | boolean | string[] | undefined>;

/**
 * Reads the user probes of the probe directories the layers name, so that
 * their names are probe names when the settings are checked; throws their
 * problems, one line each.
 */
function useUserProbesOf(layers: Layer[]): void {
  let dirs: string[] = [];
  let prefix = DEFAULT_OPTIONS.metricPrefix;
  let key = settingOf('probeDirs').flag;
  for (const layer of layers) {
    if (layer.values.probeDirs !== undefined) {
      dirs = layer.values.probeDirs as string[];
      key = layer.names.probeDirs ?? key;
    }
    if (layer.values.metricPrefix !== undefined) prefix = layer.values.metricPrefix as string;
  }
  try {
    useUserProbes(userProbesIn(dirs, prefix));
  } catch (error) {
    useUserProbes([]);
    if (!(error instanceof UserProbeError)) throw error;
    throw new OptionError(key, dirs, 'directories of valid user probes', error.message);
  }
}

/**
 * The user probes of commands besides run (probes, stats): --probe-dir
 * (repeatable) or KERNSCOPE_PROBE_DIRS, and KERNSCOPE_METRIC_PREFIX.
 */
export function useProbeDirs(flags: Flags, env: NodeJS.ProcessEnv = process.env): void {
  const names = [settingOf('probeDirs').env, settingOf('metricPrefix').env];
  const environment = envLayer(
    Object.fromEntries(names.filter((name) => name in env).map((name) => [name, env[name]])),
  );
  const command = flagLayer(flags);
  OptionProblems.throwIfAny([environment.problems, command.problems]);
  useUserProbesOf([environment, command]);
}

/** Merges config file < environment < flags over the defaults; throws OptionError(s) for every bad value. */
export function resolveOptions(
  flags: Flags,
  env: NodeJS.ProcessEnv = process.env,
  read?: (path: string) => string,
): ResolvedOptions {
  // User probes are probe names too: their directories are read before the layers that name probes are
  // checked, so the layers are read twice; the config file (which may be a pipe) is read and parsed once,
  // and a failure to is kept as well.
  const loaded = new Map<string, { value: unknown } | { error: unknown }>();
  const loadOnce = (file: string): unknown => {
    let outcome = loaded.get(file);
    if (!outcome) {
      try {
        outcome = { value: parseYamlFile((read ?? readYamlFile)(file), file) };
      } catch (error) {
        outcome = { error };
      }
      loaded.set(file, outcome);
    }
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  };
  const first = readLayers(flags, env, loadOnce).layers;
  // A bad probe directory would also make every probe name of it unknown: say only the cause.
  const dirs = settingOf('probeDirs');
  OptionErrors.throwIfAny(
    first
      .flatMap((layer) => layer.problems.errors)
      .filter((e) => [dirs.flag, dirs.env].includes(e.key) || e.key.startsWith(`${dirs.file} `)),
  );
  useUserProbesOf(first);
  const { layers, environment, command } = readLayers(flags, env, loadOnce);
  OptionProblems.throwIfAny(layers.map((layer) => layer.problems));

  const values: Partial<Record<Setting['key'], unknown>> = {};
  const names: SettingNames = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer.values) as [Setting['key'], unknown][]) {
      values[key] = value;
      names[key] = layer.names[key];
    }
  }
  // Per-probe filters are file settings: a global filter from the environment or a flag beats them.
  const probeOptions = structuredClone(layers[0]?.probeOptions ?? {});
  for (const key of FILTER_KEYS) {
    if (environment.values[key] === undefined && command.values[key] === undefined) continue;
    for (const options of Object.values(probeOptions)) delete options[key];
  }
  const ringBytes = (values.ringBytes as number | undefined) ?? DEFAULT_OPTIONS.ringBytes;
  const options = validateOptions(
    {
      ...DEFAULT_OPTIONS,
      wakeupBytes: Math.min(DEFAULT_OPTIONS.wakeupBytes, ringBytes / 4),
      ...(values as Partial<AgentOptions>),
      probeOptions,
    },
    names,
  );
  const sources = layers.flatMap((layer) => {
    const set = Object.values(layer.names);
    if (layer.source.startsWith('config file')) return [layer.source];
    return set.length ? [`${layer.source} (${set.join(', ')})`] : [];
  });
  return { options, sources };
}
