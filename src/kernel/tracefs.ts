// Classic tracepoints attach through tracefs, which a fresh machine or a
// container may not have mounted. raw_tp and tp_btf do not need it.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const TRACEFS = '/sys/kernel/tracing';

export function tracefsMounted(): boolean {
  return existsSync(`${TRACEFS}/events`) || existsSync('/sys/kernel/debug/tracing/events');
}

/**
 * Mounts tracefs when it is missing and we may. Returns a note for the log
 * when it stays unavailable; variants that need it are then skipped.
 */
export function ensureTracefs(): string | undefined {
  if (tracefsMounted()) return undefined;
  try {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS], { stdio: 'pipe' });
    return tracefsMounted() ? undefined : `tracefs mounted at ${TRACEFS} but has no events`;
  } catch (error) {
    const reason = (error as { stderr?: Buffer }).stderr?.toString().trim() || String(error);
    return `tracefs is not mounted and mounting it failed (${reason}); classic tracepoint variants are skipped`;
  }
}
