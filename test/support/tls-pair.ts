// A self-signed certificate and its key for the relay's own HTTPS (server.tls_cert, server.tls_key),
// made with openssl: the common name tells which pair a connection was given.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export interface TlsPair {
  readonly cert: string;
  readonly key: string;
}

export function makeTlsPair(dir: string, name: string): TlsPair {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return { cert, key };
}
