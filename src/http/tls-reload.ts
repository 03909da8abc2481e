// The relay's own certificate is renewed like any other (certbot every 60 days, for 90-day ones).
// The files are read again every minute, and at SIGHUP: once they hold a new usable pair, new
// connections get it. Read only at start-up, the renewed files would wait for a restart while the
// old certificate expired, and every hook and Telegraf writing over HTTPS would fail.
import type { Server } from 'node:tls';
import { loadTlsFiles, type TlsFiles } from './tls-files.js';

/** How often the files are compared with those served. Two small files a minute cost nothing. */
export const TLS_RECHECK_MS = 60_000;

export interface TlsReloadLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export type TlsCheck = 'unchanged' | 'reloaded' | 'refused';

export class TlsReload {
  readonly #certPath: string;
  readonly #keyPath: string;
  readonly #server: Pick<Server, 'setSecureContext'>;
  readonly #log: TlsReloadLog;
  #served: TlsFiles;
  /** The last pair refused, so that files left unusable are reported once, not every minute. */
  #refused: string | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: { certPath: string; keyPath: string; served: TlsFiles; server: Pick<Server, 'setSecureContext'>; log: TlsReloadLog }) {
    this.#certPath = opts.certPath;
    this.#keyPath = opts.keyPath;
    this.#served = opts.served;
    this.#server = opts.server;
    this.#log = opts.log;
  }

  start(intervalMs = TLS_RECHECK_MS): this {
    this.#timer ??= setInterval(() => this.check(), intervalMs).unref();
    return this;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Serves the files' pair from now on if it changed and can be used; else keeps the one served. */
  check(): TlsCheck {
    let files: TlsFiles;
    try {
      files = loadTlsFiles(this.#certPath, this.#keyPath);
    } catch (err) {
      // Mid-renewal the two files may briefly not match: the next check takes the finished pair.
      const reason = (err as Error).message;
      if (this.#refused !== reason) {
        this.#refused = reason;
        this.#log.warn({ reason }, 'server.tls_cert or server.tls_key changed but cannot be used: the previous certificate is still served');
      }
      return 'refused';
    }
    this.#refused = undefined;
    if (files.cert.equals(this.#served.cert) && files.key.equals(this.#served.key)) return 'unchanged';
    this.#server.setSecureContext({ cert: files.cert, key: files.key });
    this.#served = files;
    this.#log.info({ cert: this.#certPath }, 'server.tls_cert and server.tls_key changed: new connections get the new certificate');
    return 'reloaded';
  }
}
