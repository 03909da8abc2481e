// A port for an external server started by a test. It stays below 32768
// because the kernel hands out ephemeral ports from 32768 up: a port picked
// there can be taken by any outgoing connection before the server binds it.
import { createServer } from 'node:net';

const LOWEST = 20000;
const HIGHEST = 32000;
const ATTEMPTS = 50;

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/** A random port in 20000–32000 that 127.0.0.1 could bind a moment ago. */
export async function freePortBelow32768(): Promise<number> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST + 1));
    if (await canBind(port)) return port;
  }
  throw new Error(`no free port found in ${LOWEST}-${HIGHEST} after ${ATTEMPTS} attempts`);
}
