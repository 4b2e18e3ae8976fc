// The checks the SETTINGS rows use, and the probe names their messages and
// help list. A check says why a parsed value is not acceptable (a reason
// appended to the row's `accepted`, or '' for none), or undefined when it is.
import { accessSync, constants, statSync } from 'node:fs';

import { parseCapability } from '../kernel/capabilities';
import { resolveCgroup } from '../kernel/cgroup';
import { resolveNetns } from '../kernel/netns';
import { BUILTIN_PROBES, allProbes, findProbe } from '../probes';
import { parseListen } from './listenAddress';

/** Why a parsed value is not acceptable (appended to the row's `accepted`), or undefined when it is. */
export type Check = (value: unknown) => string | undefined;

export const ok = (test: boolean, why = ''): string | undefined => (test ? undefined : why);
export const isInteger = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value);
/** For the messages and help of the probe settings. */
export const probeNames = (): string =>
  allProbes()
    .map((p) => p.name)
    .join(', ');
export const perSyscallProbeNames = (): string =>
  BUILTIN_PROBES.filter((p) => p.cost === 'per-syscall')
    .map((p) => p.name)
    .join(', ');

function isReadableFile(file: string): boolean {
  try {
    accessSync(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** A check that `resolve` accepts a non-empty string, with its reason when it does not. */
function resolves(resolve: (value: string) => unknown): Check {
  return (value) => {
    if (typeof value !== 'string' || value === '') return '';
    try {
      resolve(value);
      return undefined;
    } catch (error) {
      return ` (${(error as Error).message})`;
    }
  };
}

export const cgroupProblem = resolves(resolveCgroup);
export const netnsProblem = resolves(resolveNetns);

export function listenProblem(value: unknown): string | undefined {
  try {
    parseListen(value as string);
    return undefined;
  } catch {
    return '';
  }
}

export function probesProblem(value: unknown): string | undefined {
  const names = value as string[];
  const unknown = names.find((name) => !findProbe(name));
  if (unknown !== undefined) return ` (${JSON.stringify(unknown)} is none of them)`;
  return ok(names.length > 0);
}

export function capabilitiesKeepProblem(value: unknown): string | undefined {
  if (!Array.isArray(value) || !value.every((name) => typeof name === 'string')) return '';
  if (value.length === 1 && ['none', 'all'].includes(value[0].toLowerCase())) return undefined;
  const unknown = value.find((name) => parseCapability(name) === undefined);
  return unknown === undefined ? undefined : ` (${JSON.stringify(unknown)} is none of them)`;
}

function isReadableDirectory(dir: string): boolean {
  try {
    accessSync(dir, constants.R_OK | constants.X_OK);
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

export function directoriesProblem(value: unknown): string | undefined {
  if (!Array.isArray(value)) return '';
  const bad: unknown = (value as unknown[]).find((dir) => typeof dir !== 'string' || !isReadableDirectory(dir));
  return bad === undefined ? undefined : ` (${JSON.stringify(bad)} is not one)`;
}

export const booleanProblem: Check = (value) => ok(typeof value === 'boolean');
export const readableFileProblem: Check = (value) => ok(typeof value === 'string' && isReadableFile(value));
