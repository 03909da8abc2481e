// The relay's own certificate and key (server.tls_cert, server.tls_key), read and tried once at
// start-up. The config check only knows that the files are readable; a file that holds no PEM, an
// encrypted key or a key of another certificate would otherwise stop the relay with OpenSSL's bare
// reason and a stack trace, naming neither key nor file.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

export interface TlsFiles {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** A TLS file that can be read but not used: a configuration error, named by its key. */
export class TlsFilesError extends Error {
  constructor(
    readonly key: 'server.tls_cert' | 'server.tls_key',
    message: string,
  ) {
    super(`config: ${key}: ${message}`);
    this.name = 'TlsFilesError';
  }
}

export function loadTlsFiles(certPath: string, keyPath: string): TlsFiles {
  const cert = readFileSync(certPath);
  const key = readFileSync(keyPath);
  // Each file alone first, so that the message blames the right one.
  const certProblem = contextProblem({ cert });
  if (certProblem !== undefined) {
    throw new TlsFilesError('server.tls_cert', `"${certPath}" holds no usable PEM certificate (${certProblem})`);
  }
  const keyProblem = contextProblem({ key });
  if (keyProblem !== undefined) {
    throw new TlsFilesError(
      'server.tls_key',
      `"${keyPath}" holds no usable PEM private key (${keyProblem})${keyProblem.includes('bad decrypt') ? ': it is encrypted, and the relay takes no passphrase' : ''}`,
    );
  }
  const pairProblem = contextProblem({ cert, key });
  if (pairProblem !== undefined) {
    throw new TlsFilesError('server.tls_key', `"${keyPath}" is not the private key of the certificate in "${certPath}" (server.tls_cert): ${pairProblem}`);
  }
  return { cert, key };
}

function contextProblem(files: { cert?: Buffer; key?: Buffer }): string | undefined {
  try {
    createSecureContext(files);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
