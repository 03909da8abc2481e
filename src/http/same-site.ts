// Where a request comes from, as browsers tell it. InfluxDB clients, curl and
// scripts send no Origin and no Sec-Fetch-Site; a web page does. With no tokens
// configured (the default), any page open on a machine that reaches the relay
// could otherwise write a point that silences an alert, or retire a certificate.
import { isIPv4 } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RelayError } from '../errors.js';

/**
 * The web page a browser names for this request, or undefined when no page sent it.
 * Any page counts, the relay's own origin included: the relay's page never writes, and
 * on a relay listening on all interfaces a page whose name was re-pointed at the
 * relay (DNS rebinding) is its own origin to the browser. Browsers send Origin with
 * every POST, and Sec-Fetch-Site with every request (`none`: the user typed the URL).
 */
export function webPageOrigin(request: FastifyRequest): string | undefined {
  const { origin } = request.headers;
  if (origin !== undefined) return origin;
  const site = request.headers['sec-fetch-site'];
  // A GET from an <img>, a link or a fetch() carries no Origin, but says where it comes from here.
  if (site !== undefined && site !== 'none') return `Sec-Fetch-Site: ${site}`;
  return undefined;
}

// Names that only ever mean this machine: Debian's /etc/hosts aliases, and *.localhost (RFC 6761), which
// browsers resolve to loopback themselves, so no page can re-point them.
const LOOPBACK_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback', '127.0.0.1', '[::1]', '::1']);

/** Whether a listen address (or a Host name) is loopback only. */
export function isLoopback(host: string): boolean {
  const name = host.toLowerCase();
  // 127.x only as an IPv4 literal: a page may well be called 127.0.0.1.rebind.example.
  return LOOPBACK_NAMES.has(name) || (isIPv4(name) && name.startsWith('127.')) || name.endsWith('.localhost');
}

/**
 * A relay that listens on loopback is only ever reached as localhost, 127.x or
 * [::1]. Another name in Host means a page whose domain was re-pointed at
 * 127.0.0.1 (DNS rebinding): to the browser it is then the same site.
 */
export function hostIsLoopback(host: string | undefined): boolean {
  if (host === undefined) return true; // HTTP/1.0 without Host: not a browser
  // The name without its port, no URL parsed: this runs for every request.
  const end = host.startsWith('[') ? host.indexOf(']') + 1 : host.lastIndexOf(':');
  return isLoopback(end > 0 ? host.slice(0, end) : host);
}

/** Writes and /query from a web page get 403 in the route's own format. */
export function refuseWebPages(scope: FastifyInstance): void {
  // A callback hook, not an async one: no promise per write.
  scope.addHook('onRequest', (request, _reply, done) => {
    const origin = webPageOrigin(request);
    done(origin === undefined ? undefined : new RelayError('CR_CROSS_SITE_WRITE', JSON.stringify(origin)));
  });
}
