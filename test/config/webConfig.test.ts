// --web-config FILE (KERNSCOPE_WEB_CONFIG, config key web_config) through
// `kernscope run --check-config`: a good file is summarised; every problem in
// a bad one is one line naming the key, the value and what is accepted, and
// exits 2 before anything loads.
import path from 'node:path';

import t from 'tap';

import { writeConfig } from '../helpers/configFile';
import { CLI } from '../helpers/paths';
import type { RunResult } from '../helpers/process';
import { lines, run } from '../helpers/process';
import { selfSignedCert } from '../helpers/tls';

const HASH = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';

function checkConfig(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return run('/usr/bin/env', [
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    ...[process.execPath, CLI, 'run', '--check-config', ...args],
  ]);
}

void t.test('a good web config, from the flag, the environment or the config file', async (t) => {
  const cert = await selfSignedCert(t);
  const web = writeConfig(
    t,
    `tls_server_config:\n  cert_file: ${cert.certPath}\n  key_file: ${cert.keyPath}\n  min_version: TLS13\nbasic_auth_users:\n  prometheus: '${HASH}'\n`,
  );
  const summary = /; listen :9478; web https \(TLSv1\.3-TLSv1\.3, NoClientCert\), basic_auth_users 1; /;
  for (const [how, args, env] of [
    ['--web-config', ['--web-config', web], {}],
    ['KERNSCOPE_WEB_CONFIG', [], { KERNSCOPE_WEB_CONFIG: web }],
    ['web_config in the config file', ['--config', writeConfig(t, `web_config: ${web}\n`)], {}],
  ] as const) {
    const result = await checkConfig([...args], env);
    t.same({ code: result.code, stderr: result.stderr }, { code: 0, stderr: '' }, `${how}: exit 0`);
    t.match(result.stdout, summary, `${how}: summarised`);
  }
});

void t.test('each problem of a bad web config is one line, exit 2', async (t) => {
  const cert = await selfSignedCert(t);
  const other = await selfSignedCert(t);
  const tls = (lines: string): string =>
    `tls_server_config:\n  cert_file: ${cert.certPath}\n  key_file: ${cert.keyPath}\n${lines}`;
  const cases: [string, string, RegExp[]][] = [
    [
      'exporter-toolkit keys kernscope does not read',
      `${tls('  cipher_suites: [TLS_AES_128_GCM_SHA256]\n')}http_server_config:\n  http2: false\nrate_limit: {}\n`,
      [
        /^kernscope: unknown key tls_server_config\.cipher_suites in \S+; expected one of cert_file, key_file, client_auth_type, client_ca_file, min_version, max_version$/,
        /^kernscope: unknown key http_server_config in \S+; expected one of tls_server_config, basic_auth_users$/,
        /^kernscope: unknown key rate_limit in \S+; expected one of tls_server_config, basic_auth_users$/,
      ],
    ],
    [
      'an insecure client_auth_type',
      tls('  client_auth_type: VerifyClientCertIfGiven\n'),
      [
        /^kernscope: invalid tls_server_config\.client_auth_type in \S+: "VerifyClientCertIfGiven"; expected NoClientCert or RequireAndVerifyClientCert$/,
      ],
    ],
    [
      'TLS versions',
      tls('  min_version: TLS11\n  max_version: TLS14\n'),
      [
        /^kernscope: invalid tls_server_config\.min_version in \S+: "TLS11"; expected TLS12 or TLS13$/,
        /^kernscope: invalid tls_server_config\.max_version in \S+: "TLS14"; expected TLS12 or TLS13$/,
      ],
    ],
    [
      'max_version below min_version',
      tls('  min_version: TLS13\n  max_version: TLS12\n'),
      [
        /^kernscope: invalid tls_server_config\.max_version in \S+: "TLS12"; expected TLS13, or TLS12 and above min_version TLS13$/,
      ],
    ],
    [
      'client certificates without a CA',
      tls('  client_auth_type: RequireAndVerifyClientCert\n'),
      [
        /^kernscope: missing tls_server_config\.client_ca_file in \S+; expected the PEM file of the CAs that sign client certificates/,
      ],
    ],
    [
      'a CA without client certificates',
      tls(`  client_ca_file: ${other.certPath}\n`),
      [
        /^kernscope: invalid tls_server_config\.client_auth_type in \S+: "NoClientCert"; expected RequireAndVerifyClientCert when client_ca_file is set$/,
      ],
    ],
    [
      'no key_file',
      `tls_server_config:\n  cert_file: ${cert.certPath}\n`,
      [/^kernscope: missing tls_server_config\.key_file in \S+; expected a PEM file$/],
    ],
    [
      'an unreadable certificate',
      `tls_server_config:\n  cert_file: /nonexistent/cert.pem\n  key_file: ${cert.keyPath}\n`,
      [/^kernscope: cannot read tls_server_config\.cert_file in \S+: \/nonexistent\/cert\.pem: ENOENT$/],
    ],
    [
      'a key of another certificate',
      `tls_server_config:\n  cert_file: ${cert.certPath}\n  key_file: ${other.keyPath}\n`,
      [
        /^kernscope: invalid tls_server_config in \S+: cert_file, key_file and client_ca_file must be PEM and the key must match the certificate \(.*key values mismatch\)$/,
      ],
    ],
    [
      'a password instead of a hash, and a user name with a colon',
      `basic_auth_users:\n  prometheus: hunter2\n  'a:b': '${HASH}'\n`,
      [
        /^kernscope: invalid basic_auth_users\.prometheus in \S+: a string of 7 characters; expected a bcrypt hash \(\$2y\$10\$\.\.\., htpasswd -nBC 10\)$/,
        /^kernscope: invalid basic_auth_users\.a:b in \S+: "a:b"; expected a user name without ":" \(RFC 7617\)$/,
      ],
    ],
    ['not YAML', 'tls_server_config: [\n', [/^kernscope: cannot parse web config \S+: /]],
    [
      'not a mapping',
      '- tls_server_config\n',
      [/^kernscope: invalid the top level in \S+: \["tls_server_config"\]; expected a mapping of web settings$/],
    ],
  ];
  for (const [what, yaml, expected] of cases) {
    const result = await checkConfig(['--web-config', writeConfig(t, yaml)]);
    t.equal(result.code, 2, `${what}: exit 2`);
    const got = lines(result.stderr);
    t.equal(got.length, expected.length, `${what}: ${expected.length} line(s): ${result.stderr}`);
    expected.forEach((pattern, i) => t.match(got[i], pattern, `${what}: line ${i + 1}`));
    t.notMatch(result.stderr, /hunter2|\n\s+at /, `${what}: no secret, no stack trace`);
  }
  const missing = await checkConfig(['--web-config', path.join(path.dirname(cert.certPath), 'absent.yml')]);
  t.same([missing.code, lines(missing.stderr).length], [2, 1], 'a missing web config file: exit 2, one line');
  t.match(
    missing.stderr,
    /^kernscope: invalid --web-config: "\S+absent\.yml"; expected a readable web config file/,
    'a missing web config file: named, with what is expected',
  );
});
