// Who may write where, and who may read. Credentials arrive the ways InfluxDB clients send them:
// "Authorization: Token t" / "Bearer t" (or "Token user:t", InfluxDB 1.8's
// form), HTTP Basic (the password is the token, as in InfluxDB 2's
// 1.x-compatibility API), or ?u=&p= in the URL.
// With no tokens configured every request is allowed and credentials are
// ignored (the python client always sends root:root).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { TokenAccess, TokenConfig } from '../config/defaults.js';
import { RelayError } from '../errors.js';

export interface Credentials {
  readonly authorization?: string;
  readonly queryPassword?: string;
}

interface HashedToken {
  readonly digest: Buffer;
  readonly databases: ReadonlySet<string>;
  readonly access: TokenAccess;
}

export class Authorizer {
  readonly #tokens: readonly HashedToken[];

  constructor(tokens: readonly TokenConfig[]) {
    this.#tokens = tokens.map((t) => ({ digest: sha256(t.token), databases: new Set(t.databases), access: t.access }));
  }

  get enabled(): boolean {
    return this.#tokens.length > 0;
  }

  /** Checks the presented token; throws CR_UNAUTHORIZED. The grant says where it may write and whether it may read. */
  authenticate(credentials: Credentials): Grant {
    if (!this.enabled) return ALLOW_ALL;
    const presented = presentedTokens(credentials);
    if (presented.length === 0) throw new RelayError('CR_UNAUTHORIZED');
    // Compare against every token, without stopping early, so timing says nothing about which matched.
    let match: HashedToken | undefined;
    for (const candidate of presented) {
      const digest = sha256(candidate);
      for (const token of this.#tokens) {
        if (timingSafeEqual(token.digest, digest) && match === undefined) match = token;
      }
    }
    if (match === undefined) throw new RelayError('CR_UNAUTHORIZED');
    const { databases, access } = match;
    const writes = access !== 'read';
    const mayWrite = (database: string): boolean => writes && (databases.size === 0 || databases.has(database));
    return {
      assertMayWrite(database) {
        if (!writes) throw new RelayError('CR_READ_ONLY_TOKEN');
        if (!mayWrite(database)) throw new RelayError('CR_FORBIDDEN', JSON.stringify(database));
      },
      mayWrite,
      mayRead: access !== 'write',
      isAdmin: access === 'read-write' && databases.size === 0,
    };
  }
}

export interface Grant {
  /** Throws CR_READ_ONLY_TOKEN for a token that only reads, CR_FORBIDDEN when it is limited to other databases. */
  assertMayWrite(database: string): void;
  mayWrite(database: string): boolean;
  /** The page, /api/v1/renewals and /metrics under auth.protect_reads. */
  readonly mayRead: boolean;
  /** Retire and snooze: read-write and not limited to databases (a hook's token must not silence alerts). */
  readonly isAdmin: boolean;
}

const ALLOW_ALL: Grant = { assertMayWrite() {}, mayWrite: () => true, mayRead: true, isAdmin: true };

/**
 * The tokens a request may be presenting, most literal first. A Token or Bearer value
 * "user:password" is InfluxDB 1.8's 2.x-compatible form (what its client examples send):
 * when the whole value is no token, its password part may be, as with Basic.
 * The `p` of the URL comes first and counts whatever the header holds, as influxd reads
 * u/p before the header: behind a proxy that asks for its own Basic credentials (nginx
 * auth_basic passes them on), the header is the proxy's, and the token is in the URL.
 */
export function presentedTokens({ authorization, queryPassword }: Credentials): string[] {
  const fromHeader = authorization === undefined ? [] : tokensInHeader(authorization);
  return queryPassword ? [queryPassword, ...fromHeader] : fromHeader;
}

function tokensInHeader(authorization: string): string[] {
  const space = authorization.indexOf(' ');
  const scheme = (space < 0 ? authorization : authorization.slice(0, space)).toLowerCase();
  const value = space < 0 ? '' : authorization.slice(space + 1).trim();
  if (scheme === 'token' || scheme === 'bearer') {
    if (value === '') return [];
    const password = afterFirstColon(value);
    return password === undefined ? [value] : [value, password];
  }
  if (scheme === 'basic') {
    const password = afterFirstColon(Buffer.from(value, 'base64').toString('utf8'));
    return password === undefined ? [] : [password];
  }
  return [];
}

function afterFirstColon(text: string): string | undefined {
  const colon = text.indexOf(':');
  return colon < 0 || colon === text.length - 1 ? undefined : text.slice(colon + 1);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
