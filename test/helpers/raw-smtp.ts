// A bare TCP client for exact wire assertions: write bytes, read whole replies as the server sent them.
import { connect, type Socket } from 'node:net';

export interface RawClient {
  /** Writes text as is (add the CRLFs yourself). */
  send(text: string | Buffer): void;
  /** The next complete reply (its lines up to `NNN ` ), with CRLFs. */
  reply(timeoutMs?: number): Promise<string>;
  /** Resolves when the server has closed the connection, with everything it sent that was not read. */
  closed(timeoutMs?: number): Promise<string>;
  readonly socket: Socket;
}

export async function rawClient(port: number, host = '127.0.0.1'): Promise<RawClient> {
  const socket = connect(port, host);
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  socket.on('error', () => undefined);
  let buffer = '';
  let ended = false;
  let wake: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => { buffer += chunk.toString('latin1'); wake?.(); });
  socket.on('close', () => { ended = true; wake?.(); });
  const wait = (ms: number, what: string) => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms; got so far: ${JSON.stringify(buffer)}`)), ms);
    wake = () => { clearTimeout(timer); wake = undefined; resolve(); };
  });
  const complete = () => {
    let at = 0;
    for (;;) {
      const end = buffer.indexOf('\r\n', at);
      if (end === -1) return -1;
      if (buffer[at + 3] === ' ' || end - at === 3) return end + 2;
      at = end + 2;
    }
  };
  return {
    socket,
    send: (text) => { socket.write(text); },
    async reply(timeoutMs = 5000) {
      for (;;) {
        const end = complete();
        if (end !== -1) {
          const out = buffer.slice(0, end);
          buffer = buffer.slice(end);
          return out;
        }
        if (ended) throw new Error(`connection closed before a reply; got ${JSON.stringify(buffer)}`);
        await wait(timeoutMs, 'reply');
      }
    },
    async closed(timeoutMs = 5000) {
      while (!ended) await wait(timeoutMs, 'close');
      const rest = buffer;
      buffer = '';
      return rest;
    },
  };
}
