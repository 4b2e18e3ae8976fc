// A user probe's object is not in dist/bpf/SHA256SUMS: it is checked only
// when its owner wrote a sum beside it (NAME.bpf.o.sha256, sha256sum's output
// or the bare digest); then a changed object is refused, at --check-config
// and again right before the kernel sees it.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { UserProbeError } from './UserProbeError';

/** Throws one line naming the files and the fix when `objectPath` does not match its `.sha256`, if it has one. */
export function verifyUserObject(objectPath: string): void {
  const sumFile = `${objectPath}.sha256`;
  let text: string;
  try {
    text = readFileSync(sumFile, 'utf8');
  } catch {
    return;
  }
  const expected = /^[0-9a-f]{64}\b/i.exec(text.trim())?.[0].toLowerCase();
  if (!expected) {
    throw new UserProbeError(sumFile, '', `holds no sha256 digest: write it with sha256sum ${objectPath} > ${sumFile}`);
  }
  const actual = createHash('sha256').update(readFileSync(objectPath)).digest('hex');
  if (actual !== expected) {
    throw new UserProbeError(
      objectPath,
      '',
      `does not match ${sumFile}: rebuild it, or write its new sum with sha256sum`,
    );
  }
}
