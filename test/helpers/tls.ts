// A self-signed certificate for IP 127.0.0.1, made by openssl in a temporary
// directory that is removed at teardown.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { run } from './process';
import type { HasTeardown } from './teardown';

export interface SelfSignedCert {
  certPath: string;
  keyPath: string;
  cert: Buffer;
  key: Buffer;
}

export async function selfSignedCert(t: HasTeardown): Promise<SelfSignedCert> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kernscope-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [certPath, keyPath] = [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem')];
  const result = await run('openssl', [
    'req',
    ...['-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1'],
    ...['-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1'],
    ...['-keyout', keyPath, '-out', certPath],
  ]);
  if (result.code !== 0) throw new Error(`openssl req failed (${result.code}): ${result.stderr}`);
  return { certPath, keyPath, cert: readFileSync(certPath), key: readFileSync(keyPath) };
}
