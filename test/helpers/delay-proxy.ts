// A TCP proxy on loopback in front of Redis that delays what the server sends either to subscribed
// connections (those that sent SUBSCRIBE) or to the others, to widen the windows in which a subscriber
// and the command connection disagree about what happened first.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface DelayProxy {
  readonly port: number;
  readonly url: string;
  /** Changes the delay for data sent from now on. */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

/** Listens on a free 127.0.0.1 port, forwards to `port`, and delays server -> client data of `slow` connections by `delayMs`. */
export async function startDelayProxy(port: number, delayMs: number, slow: 'subscribers' | 'commands'): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  let delay = delayMs;
  const server: Server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    let subscriber = false;
    client.on('data', (chunk: Buffer) => {
      if (/subscribe/i.test(chunk.toString('latin1'))) subscriber = true;
      upstream.write(chunk);
    });
    // Chunks keep their order: one chain per connection, each chunk written after the one before.
    let chain = Promise.resolve();
    let queued = 0;
    upstream.on('data', (chunk: Buffer) => {
      const wait = subscriber === (slow === 'subscribers') ? delay : 0;
      if (wait === 0 && queued === 0) return void client.write(chunk);
      const at = Date.now() + wait;
      queued++;
      chain = chain.then(() => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())))).then(() => {
        queued--;
        if (!client.destroyed) client.write(chunk);
      });
    });
    const end = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('close', end).on('error', end);
    upstream.on('close', () => setTimeout(end, delayMs)).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: own } = server.address() as { port: number };
  return {
    port: own,
    url: `redis://127.0.0.1:${own}`,
    setDelay: (ms) => { delay = ms; },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
