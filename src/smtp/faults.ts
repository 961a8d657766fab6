/**
 * @internal The socket side of fault actions: a clean close or a TCP reset without a reply, and replies
 * written at a limited rate. The session decides when; these only touch the socket.
 */
import type { Socket } from 'node:net';

/** Milliseconds a closed connection may stay half-open before it is destroyed. */
export const LINGER = 10_000;

/**
 * Ends the connection: `close` sends FIN after what was written (the client sees a clean close),
 * `reset` discards it and sends RST (the client sees ECONNRESET).
 */
export function drop(socket: Socket, how: 'close' | 'reset'): void {
  if (how === 'reset') {
    // resetAndDestroy() needs a TCP handle; a socket that is already gone has none.
    if (socket.destroyed) return;
    socket.resetAndDestroy();
    return;
  }
  socket.end();
  // A client that never closes its side must not hold the connection (and a maxConnections slot).
  const linger = setTimeout(() => socket.destroy(), LINGER).unref();
  socket.once('close', () => clearTimeout(linger));
}

/** Slices per second of a throttled write: fine enough to look like a slow link, coarse enough to be cheap. */
const TICKS_PER_SECOND = 10;

/**
 * Writes `wire` at most `bytesPerSecond` octets per second, then calls `done` (not if the socket
 * closes first). Returns a function that stops the write.
 */
export function writeThrottled(socket: Socket, wire: string, bytesPerSecond: number, done: () => void): () => void {
  const bytes = Buffer.from(wire, 'latin1');
  const slice = Math.max(1, Math.ceil(bytesPerSecond / TICKS_PER_SECOND));
  const interval = (slice / bytesPerSecond) * 1000;
  let offset = 0;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    timer = undefined;
    if (socket.destroyed) return;
    socket.write(bytes.subarray(offset, offset + slice));
    offset += slice;
    if (offset >= bytes.length) return done();
    timer = setTimeout(tick, interval);
  };
  tick();
  return () => clearTimeout(timer);
}
