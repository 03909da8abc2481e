// A real SMTP server on loopback for tests: Debian's aiosmtpd, run by
// Debian's python (/usr/bin/python3; the python3 on PATH may lack it). Each
// accepted message is decoded by python's email package and kept as JSON.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Test } from 'tap';

export const SYSTEM_PYTHON = '/usr/bin/python3';

const SERVER = String.raw`
import json, os, sys
from email import message_from_bytes, policy
from aiosmtpd.controller import Controller

host, port, out, opts = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])

class Keep:
    count = 0
    refused = 0
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        gone = opts.get('refuseForGoodPrefix')
        if gone and address.startswith(gone):
            return '550 5.1.1 no such user here'
        prefix = opts.get('refusePrefix')
        if prefix and address.startswith(prefix) and Keep.refused < opts.get('refuseTimes', 0):
            Keep.refused += 1
            return '450 4.2.0 mailbox busy, try again later'
        envelope.rcpt_tos.append(address)
        return '250 OK'
    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        shunned = opts.get('refuseSubjectContaining')
        if shunned and shunned in str(msg['subject']):
            return '554 5.7.1 message refused by content filter'
        Keep.count += 1
        record = {
            'mail_from': envelope.mail_from,
            'rcpt_tos': envelope.rcpt_tos,
            'from': str(msg['from']),
            'to': str(msg['to']),
            'subject': str(msg['subject']),
            'headers': {k: str(v) for k, v in msg.items()},
            'text': msg.get_body(preferencelist=('plain',)).get_content().replace('\r\n', '\n'),
        }
        path = os.path.join(out, '%04d.json' % Keep.count)
        with open(path + '.tmp', 'w') as f:
            json.dump(record, f)
        os.rename(path + '.tmp', path)
        return '250 Message accepted for delivery'

controller = Controller(Keep(), hostname=host, port=port)
controller.start()
print('ready', flush=True)
sys.stdin.read()
controller.stop()
`;

export interface ReceivedMail {
  readonly mail_from: string;
  readonly rcpt_tos: string[];
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly headers: Record<string, string>;
  readonly text: string;
}

export interface SmtpServer {
  readonly port: number;
  /** Every message accepted so far, in order. */
  received(): ReceivedMail[];
  stop(): Promise<void>;
}

export interface SmtpServerOptions {
  /** Recipients starting with this are refused with 450 (try again later), the first refuseTimes times. */
  readonly refusePrefix?: string;
  readonly refuseTimes?: number;
  /** Recipients starting with this are refused with 550 (no such user), always. */
  readonly refuseForGoodPrefix?: string;
  /** Messages whose subject contains this are refused after their content (DATA) with 554, always: a content filter. */
  readonly refuseSubjectContaining?: string;
}

/** Starts the server on 127.0.0.1:port; stopped at the test's teardown at the latest. */
export async function startSmtpServer(t: Test, port: number, options: SmtpServerOptions = {}): Promise<SmtpServer> {
  const dir = t.testdir({});
  const args = ['-c', SERVER, '127.0.0.1', String(port), dir, JSON.stringify(options)];
  const child: ChildProcess = spawn(SYSTEM_PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => (line === 'ready' ? resolve() : reject(new Error(`smtp server: ${line}`))));
    child.once('exit', (code) => reject(new Error(`smtp server exited with ${code}: ${stderr}`)));
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return;
    child.stdin?.end();
    await exited;
  };
  t.teardown(stop);
  return {
    port,
    received: () =>
      readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .sort()
        .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ReceivedMail),
    stop,
  };
}
