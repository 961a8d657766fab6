// Real HTTP servers on a free loopback port.
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Running {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function listen(listener: RequestListener): Promise<Running> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** A raw request, for cases fetch would normalise (bodies without content type, odd methods). */
export async function raw(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<{ status: number; headers: Headers; json: any; text: string }> {
  const response = await fetch(url, { method: init.method ?? 'GET', headers: init.headers ?? {}, body: init.body ?? null });
  const text = await response.text();
  let json: unknown;
  try { json = text === '' ? undefined : JSON.parse(text); } catch { json = undefined; }
  return { status: response.status, headers: response.headers, json, text };
}
