// The shipped systemd unit is one systemd accepts as written (no unknown keys,
// an executable ExecStart), and its stop timeout leaves the relay its whole
// graceful stop. systemd-analyze comes with systemd; docs/deployment.md says
// what is checked where it is missing.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const UNIT = fileURLToPath(new URL('../../deploy/systemd/certrelay.service', import.meta.url));
const text = readFileSync(UNIT, 'utf8');
const settings = (key: string) => [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]);

function verify(file: string): Promise<{ code: number; stderr: string } | undefined> {
  return new Promise((resolve) =>
    execFile('systemd-analyze', ['verify', file], (err, _stdout, stderr) => {
      if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') resolve(undefined);
      else resolve({ code: err === null ? 0 : Number((err as { code?: unknown }).code ?? 1), stderr });
    }),
  );
}

t.test('the unit is hardened: own user, state directory, read-only system, restart on failure, SIGTERM with time to finish', async (t) => {
  t.same(settings('DynamicUser'), ['yes']);
  t.same(settings('StateDirectory'), ['certrelay']);
  t.same(settings('ProtectSystem'), ['strict']);
  t.same(settings('Restart'), ['on-failure']);
  t.same(settings('RestartPreventExitStatus'), ['78'], 'a refused configuration is not restarted in a loop');
  t.same(settings('KillSignal'), ['SIGTERM']);
  // main.ts exits by itself shutdown_grace_ms (default 10 s) + 5 s after SIGTERM.
  t.ok(Number(settings('TimeoutStopSec')[0]) > 15, 'TimeoutStopSec above the relay\'s own 15 s limit');
  t.same(settings('MemoryDenyWriteExecute'), [], 'not set: V8 needs W+X memory');
});

t.test('systemd-analyze verify accepts the unit, and would name a typo', async (t) => {
  const ok = await verify(UNIT);
  if (ok === undefined) return t.fail('systemd-analyze is not installed (Debian package systemd, which .ci/run and the README install)');
  t.same(ok, { code: 0, stderr: '' });
  const broken = join(t.testdir({}), 'certrelay.service');
  writeFileSync(broken, text.replace('ProtectSystem=strict', 'ProtectSytem=strict'));
  t.match((await verify(broken))?.stderr, "Unknown key 'ProtectSytem'", 'verification is real: a misspelt key is reported');
});
