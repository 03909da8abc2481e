// server.max_connections: connections beyond it are closed as they arrive, as
// influxd's max-connection-limit does. Without a cap, 19,454 connections that
// each sent one byte every 10 s used up the relay's 20,000 file descriptors, so
// it could no longer open a connection to its targets. The cap keeps
// descriptors for the relay's own work; keep it well below the process's
// open-files limit (LimitNOFILE).
import type { Server } from 'node:net';

export interface ConnectionCap {
  /** Connections open now. */
  open(): number;
}

export function capConnections(server: Server, maxConnections: number, onDropped: (open: number) => void): ConnectionCap {
  let open = 0;
  server.on('connection', (socket) => {
    open++;
    socket.once('close', () => open--);
  });
  if (maxConnections > 0) {
    server.maxConnections = maxConnections;
    server.on('drop', () => onDropped(open));
  }
  return { open: () => open };
}
