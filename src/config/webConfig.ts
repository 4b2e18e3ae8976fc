// The HTTP endpoint's TLS and basic auth, from a web config file in the
// format of the Prometheus exporter-toolkit (--web.config.file of
// node_exporter and friends), so one file can serve both. The subset read
// here: tls_server_config (cert_file, key_file, client_auth_type,
// client_ca_file, min_version, max_version) and basic_auth_users. Every other
// key, and every value outside that subset, is an OptionError naming it:
// silently ignoring a security setting would serve with less than was asked.
// Certificate files are read and paired here, so a bad one is a start error
// (exit 2, also under --check-config), not a failure at the first scrape.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createSecureContext } from 'node:tls';

import { YamlFileError } from '../yamlfile/YamlFileError';
import { parseYamlFile, readYamlFile } from '../yamlfile/yamlFile';
import { OptionError, OptionProblems } from './OptionError';

export type ClientAuthType = 'NoClientCert' | 'RequireAndVerifyClientCert';

export interface TlsSettings {
  cert: Buffer;
  key: Buffer;
  /** CAs that sign accepted client certificates (RequireAndVerifyClientCert). */
  clientCa?: Buffer;
  clientAuth: ClientAuthType;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  maxVersion: 'TLSv1.2' | 'TLSv1.3';
}

export interface WebSettings {
  tls?: TlsSettings;
  /** User name -> bcrypt hash; empty: no authentication. */
  users: Map<string, string>;
}

export const WEB_CONFIG_KEYS = ['tls_server_config', 'basic_auth_users'];
const TLS_KEYS = ['cert_file', 'key_file', 'client_auth_type', 'client_ca_file', 'min_version', 'max_version'];
// The exporter-toolkit's other client_auth_types (RequestClientCert, RequireAnyClientCert,
// VerifyClientCertIfGiven) let an unverified client through; its docs call them insecure.
const CLIENT_AUTH_TYPES: readonly ClientAuthType[] = ['NoClientCert', 'RequireAndVerifyClientCert'];
// TLS10 and TLS11 are deprecated (RFC 8996).
const TLS_VERSIONS = { TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;
/** $2a$, $2b$ or $2y$ (htpasswd -B), a two-digit cost, 22 characters of salt and 31 of hash. */
const BCRYPT_HASH = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

function plainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

type Read = (file: string) => Buffer;

/**
 * The settings of the web config `file` (read as the config file is: at most
 * YAML_FILE_LIMIT bytes, parsed hardened); throws OptionError (one problem) or
 * OptionErrors (several), each naming the key as written in the file. `read`
 * reads the certificate files.
 */
export function webSettings(file: string, read: Read = (f) => readFileSync(f)): WebSettings {
  const problems = new OptionProblems();
  const where = ` in ${file}`;
  let root: unknown;
  try {
    root = parseYamlFile(readYamlFile(file), file);
  } catch (error) {
    const message =
      error instanceof YamlFileError
        ? `cannot ${error.verb} web config ${file}: ${error.problem}`
        : `cannot read web config ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
    throw new OptionError('web_config', file, 'a readable YAML file', message);
  }
  const settings: WebSettings = { users: new Map() };
  if (root === null || root === undefined) return settings; // empty: plain HTTP, no auth (as the toolkit)
  if (!plainObject(root)) throw new OptionError(`the top level${where}`, root, 'a mapping of web settings');
  for (const [key, value] of Object.entries(root)) {
    if (key === 'tls_server_config') settings.tls = tlsSettings(value, path.dirname(file), where, read, problems);
    else if (key === 'basic_auth_users') settings.users = users(value, where, problems);
    else problems.add(() => OptionError.unknownKey(`${key}${where}`, `one of ${WEB_CONFIG_KEYS.join(', ')}`));
  }
  OptionProblems.throwIfAny([problems]);
  return settings;
}

function users(raw: unknown, where: string, problems: OptionProblems): Map<string, string> {
  const users = new Map<string, string>();
  if (raw === null || raw === undefined) return users;
  if (!plainObject(raw)) {
    problems.add(() => new OptionError(`basic_auth_users${where}`, raw, 'a mapping of user name to bcrypt hash'));
    return users;
  }
  for (const [user, hash] of Object.entries(raw)) {
    const name = `basic_auth_users.${user}${where}`;
    if (user === '' || user.includes(':')) {
      problems.add(() => new OptionError(name, user, 'a user name without ":" (RFC 7617)'));
    } else if (typeof hash !== 'string' || !BCRYPT_HASH.test(hash)) {
      // The value is a secret's hash: named by its shape, not printed.
      const shape = typeof hash === 'string' ? `a string of ${hash.length} characters` : typeof hash;
      problems.add(
        () =>
          new OptionError(
            name,
            hash,
            '',
            `invalid ${name}: ${shape}; expected a bcrypt hash ($2y$10$..., htpasswd -nBC 10)`,
          ),
      );
    } else {
      users.set(user, hash);
    }
  }
  return users;
}

function tlsSettings(
  raw: unknown,
  dir: string,
  where: string,
  read: Read,
  problems: OptionProblems,
): TlsSettings | undefined {
  const at = (key: string): string => `tls_server_config.${key}${where}`;
  if (!plainObject(raw)) {
    problems.add(() => new OptionError(`tls_server_config${where}`, raw, `a mapping of ${TLS_KEYS.join(', ')}`));
    return undefined;
  }
  const count = problems.count;
  for (const key of Object.keys(raw)) {
    if (!TLS_KEYS.includes(key)) problems.add(() => OptionError.unknownKey(at(key), `one of ${TLS_KEYS.join(', ')}`));
  }
  /** A PEM file's contents; relative paths are relative to the web config file, as in the toolkit. */
  const pem = (key: string, required: boolean): Buffer | undefined => {
    const value = raw[key];
    if (value === undefined || value === null) {
      if (required)
        problems.add(() => new OptionError(at(key), undefined, '', `missing ${at(key)}; expected a PEM file`));
      return undefined;
    }
    if (typeof value !== 'string' || value === '') {
      problems.add(() => new OptionError(at(key), value, 'a PEM file path'));
      return undefined;
    }
    const file = path.resolve(dir, value);
    try {
      return read(file);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      problems.add(() => new OptionError(at(key), value, '', `cannot read ${at(key)}: ${file}: ${reason}`));
      return undefined;
    }
  };
  const oneOf = <T extends string>(key: string, accepted: readonly T[], fallback: T): T => {
    const value = raw[key] ?? fallback;
    if (accepted.includes(value as T)) return value as T;
    problems.add(() => new OptionError(at(key), value, accepted.join(' or ')));
    return fallback;
  };
  const cert = pem('cert_file', true);
  const key = pem('key_file', true);
  const clientCa = pem('client_ca_file', false);
  const clientAuth = oneOf('client_auth_type', CLIENT_AUTH_TYPES, 'NoClientCert');
  const versions = Object.keys(TLS_VERSIONS) as (keyof typeof TLS_VERSIONS)[];
  const min = oneOf('min_version', versions, 'TLS12');
  const max = oneOf('max_version', versions, 'TLS13');
  if (min > max)
    problems.add(() => new OptionError(at('max_version'), max, `TLS13, or TLS12 and above min_version ${min}`));
  if (clientAuth === 'RequireAndVerifyClientCert' && raw.client_ca_file === undefined) {
    problems.add(
      () =>
        new OptionError(
          at('client_ca_file'),
          undefined,
          '',
          `missing ${at('client_ca_file')}; expected the PEM file of the CAs that sign client certificates (RequireAndVerifyClientCert)`,
        ),
    );
  }
  if (clientAuth === 'NoClientCert' && raw.client_ca_file !== undefined) {
    // As the toolkit: a CA without a policy that uses it is a mistake, not a choice.
    problems.add(
      () =>
        new OptionError(
          at('client_auth_type'),
          'NoClientCert',
          'RequireAndVerifyClientCert when client_ca_file is set',
        ),
    );
  }
  if (problems.count > count || !cert || !key) return undefined;
  try {
    createSecureContext({ cert, key, ca: clientCa });
  } catch (error) {
    const reason = (error as Error).message;
    problems.add(
      () =>
        new OptionError(
          `tls_server_config${where}`,
          undefined,
          '',
          `invalid tls_server_config${where}: cert_file, key_file and client_ca_file must be PEM and the key must match the certificate (${reason})`,
        ),
    );
    return undefined;
  }
  return { cert, key, clientCa, clientAuth, minVersion: TLS_VERSIONS[min], maxVersion: TLS_VERSIONS[max] };
}
