// A real ACME server on loopback for certbot tests: pebble (Let's Encrypt's
// test CA) with pebble-challtestsrv as its DNS, both from Debian packages, and
// certbot 2.x run against it with private directories and no root.
//
// Facts of this setup (issue #5):
// - Debian's pebble ships no TLS certificate for its API: a throwaway CA and a
//   leaf for localhost / 127.0.0.1 are made here with openssl, and certbot
//   trusts that CA through REQUESTS_CA_BUNDLE (which the machine may already
//   set to the system bundle, so it is always overridden).
// - challtestsrv answers every A query with 127.0.0.1 and, with an empty
//   -defaultIPv6, no AAAA: otherwise validation dials [::1] and fails.
// - certbot needs --no-random-sleep-on-renew, or `renew` sleeps up to 8 minutes.
// - A failing deploy hook does not fail certbot: it exits 0 and logs
//   "Hook 'deploy-hook' reported error code N".
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePortBelow32768 } from './free-port.js';
import { launch, retryWhilePortInUse, type Launched } from './influxd.js';

export interface Pebble {
  /** `https://127.0.0.1:PORT/dir` */
  readonly directoryUrl: string;
  /** PEM of the throwaway CA that signed the API's certificate. */
  readonly caBundle: string;
  /** The port pebble's validator dials for http-01: certbot's --http-01-port. */
  readonly httpPort: number;
  stop(): Promise<void>;
  logs(): string;
}

/** distinct ports below 32768 (see free-port.ts) */
async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePortBelow32768());
  return [...ports];
}

function makeApiCertificate(dir: string): { ca: string; cert: string; key: string } {
  const p = (f: string) => join(dir, f);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.pem'),
    '-subj', '/CN=certrelay test ACME CA', '-days', '2');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('api.key'), '-out', p('api.csr'), '-subj', '/CN=localhost');
  writeFileSync(p('api.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', p('api.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('api.pem'),
    '-days', '2', '-extfile', p('api.ext'));
  return { ca: p('ca.pem'), cert: p('api.pem'), key: p('api.key') };
}

/** pebble-challtestsrv then pebble, on free loopback ports; stop() stops both (also at process exit). */
export async function startPebble(dir: string): Promise<Pebble> {
  mkdirSync(dir, { recursive: true });
  const tls = makeApiCertificate(dir);
  return retryWhilePortInUse(async () => {
    const [dnsPort, challMgmtPort, apiPort, mgmtPort, httpPort, tlsPort] = await freePorts(6);
    const challtestsrv = await launch({
      command: 'pebble-challtestsrv',
      args: ['-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${challMgmtPort}`,
        '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''],
      // Its management API answers 404 on /: it is listening.
      readyUrl: `http://127.0.0.1:${challMgmtPort}/`,
      readyStatus: 404,
      dir,
      removeDir: false,
      startTimeoutMs: 15_000,
    });
    let pebble: Launched;
    try {
      const config = join(dir, 'pebble.json');
      writeFileSync(config, JSON.stringify({
        pebble: {
          listenAddress: `127.0.0.1:${apiPort}`,
          managementListenAddress: `127.0.0.1:${mgmtPort}`,
          certificate: tls.cert,
          privateKey: tls.key,
          httpPort,
          tlsPort,
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
        },
      }));
      pebble = await launch({
        command: 'pebble',
        args: ['-config', config, '-dnsserver', `127.0.0.1:${dnsPort}`, '-strict=false'],
        env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
        // The API is HTTPS with our throwaway CA, which fetch does not trust. Go's
        // server answers plain HTTP on a TLS port with 400: it is listening.
        readyUrl: `http://127.0.0.1:${apiPort}/dir`,
        readyStatus: 400,
        dir,
        removeDir: false,
        startTimeoutMs: 15_000,
      });
    } catch (err) {
      await challtestsrv.stop();
      throw err;
    }
    return {
      directoryUrl: `https://127.0.0.1:${apiPort}/dir`,
      caBundle: tls.ca,
      httpPort,
      stop: async () => {
        await pebble.stop();
        await challtestsrv.stop();
      },
      logs: () => `--- pebble ---\n${pebble.logs()}\n--- pebble-challtestsrv ---\n${challtestsrv.logs()}`,
    };
  });
}

export interface CertbotDirs {
  /** --config-dir: holds live/, renewal/, renewal-hooks/ (what /etc/letsencrypt is on a host). */
  readonly configDir: string;
  readonly workDir: string;
  readonly logsDir: string;
}

export function certbotDirs(root: string): CertbotDirs {
  const dirs = { configDir: join(root, 'letsencrypt'), workDir: join(root, 'work'), logsDir: join(root, 'logs') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  return dirs;
}

export interface CertbotRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** What this run added to letsencrypt.log. */
  readonly log: string;
}

const CERTBOT_TIMEOUT_S = 90;

/**
 * certbot against pebble, standalone http-01 on pebble's validation port, with
 * the environment of a cron job or systemd timer: PATH, HOME and the CA
 * bundle, nothing else (so the hook gets no configuration from it).
 */
export function runCertbot(acme: Pebble, dirs: CertbotDirs, args: readonly string[]): Promise<CertbotRun> {
  const logFile = join(dirs.logsDir, 'letsencrypt.log');
  const before = readOr(logFile).length;
  const argv = [
    String(CERTBOT_TIMEOUT_S), 'certbot', ...args,
    '--non-interactive', '--server', acme.directoryUrl,
    '--config-dir', dirs.configDir, '--work-dir', dirs.workDir, '--logs-dir', dirs.logsDir,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('timeout', argv, {
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: dirs.workDir, REQUESTS_CA_BUNDLE: acme.caBundle, LANG: 'C.UTF-8' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr, log: readOr(logFile).slice(before) }));
  });
}

/** certonly for these domains, standalone on pebble's http-01 port. */
export function certonlyArgs(acme: Pebble, certName: string, domains: readonly string[]): string[] {
  return [
    'certonly', '--standalone', '--http-01-port', String(acme.httpPort), '--http-01-address', '127.0.0.1',
    '--agree-tos', '--register-unsafely-without-email', '--cert-name', certName, ...domains.flatMap((d) => ['-d', d]),
  ];
}

/** renew --force-renewal of every lineage, or of one; never sleeps first. */
export function forceRenewArgs(certName?: string): string[] {
  return ['renew', '--force-renewal', '--no-random-sleep-on-renew', ...(certName === undefined ? [] : ['--cert-name', certName])];
}

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
