import type { ServerResponse } from 'node:http';

/** Whether the answer has gone out (or never will: the connection closed). */
export function isAnswered(res: ServerResponse): boolean {
  return res.writableFinished || res.destroyed;
}

/** Settles once the answer has gone out, or the connection closed. */
export function answered(res: ServerResponse): Promise<void> {
  if (isAnswered(res)) return Promise.resolve();
  return new Promise<void>((resolve) => {
    res.once('finish', () => resolve());
    res.once('close', () => resolve());
  });
}
