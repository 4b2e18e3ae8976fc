// BPF objects are checked against the sha256 sums `make bpf` wrote beside
// them (dist/bpf/SHA256SUMS) before the kernel sees them: an object changed
// after the build (a bad copy, a tampered image) is refused, not loaded with
// the agent's privileges.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const SUMS_FILE = 'SHA256SUMS';

/** `sha256sum` output: the hex digest by file name. */
function parseSums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (match) sums.set(match[2], match[1]);
  }
  return sums;
}

/** Throws one line naming the object and the fix unless `objectPath` matches its build-time sum. */
export function verifyObject(objectPath: string): void {
  const dir = path.dirname(objectPath);
  const name = path.basename(objectPath);
  let sums: Map<string, string>;
  try {
    sums = parseSums(readFileSync(path.join(dir, SUMS_FILE), 'utf8'));
  } catch {
    throw new Error(`${path.join(dir, SUMS_FILE)} is missing: rebuild the BPF objects with make bpf`);
  }
  const expected = sums.get(name);
  if (!expected) throw new Error(`${name} has no sum in ${path.join(dir, SUMS_FILE)}: rebuild with make bpf`);
  const actual = createHash('sha256').update(readFileSync(objectPath)).digest('hex');
  if (actual !== expected) {
    throw new Error(
      `${objectPath} does not match its build-time sha256 (${SUMS_FILE}): rebuild with make bpf, or reinstall`,
    );
  }
}
