// `kernscope run`'s flags, from the SETTINGS table: the node:util parseArgs
// options and the help entries, each with its default from DEFAULT_OPTIONS.
import { DEFAULT_OPTIONS } from './AgentOptions';
import { formatDuration } from './loadConfig';
import type { Setting } from './settings';
import { SETTINGS, settingOf } from './settings';

/**
 * parseArgs options, keyed by the flag without its dashes (as flagLayer reads
 * them): a switch for a setting without a placeholder, else a flag whose text
 * flagLayer converts and checks.
 */
export const SETTING_FLAGS: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = Object.fromEntries(
  SETTINGS.map((s) => [
    s.flag.slice(2),
    s.repeatable ? { type: 'string', multiple: true } : { type: s.placeholder === undefined ? 'boolean' : 'string' },
  ]),
);

/** One entry of a command's option list: the flag as typed, and what it does. */
export interface FlagHelp {
  usage: string;
  help: string;
}

/** The help of every setting, or of those named (for commands that take a few). */
export function settingsHelp(keys?: readonly Setting['key'][]): FlagHelp[] {
  const settings = keys === undefined ? SETTINGS : keys.map(settingOf);
  return settings.map((setting) => {
    const usage = setting.placeholder === undefined ? setting.flag : `${setting.flag} ${setting.placeholder}`;
    const shown = defaultText(setting);
    return { usage, help: shown === undefined ? setting.help : `${setting.help} (default ${shown})` };
  });
}

/** How the default reads in help; none when unset, or for a switch (off unless given). */
function defaultText(setting: Setting): string | undefined {
  const value = DEFAULT_OPTIONS[setting.key];
  if (value === undefined || setting.placeholder === undefined) return undefined;
  if (setting.kind === 'duration') return formatDuration(value as number);
  if (Array.isArray(value)) return value.join(',') || 'none';
  return String(value);
}
