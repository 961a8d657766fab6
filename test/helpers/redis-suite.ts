// One real redis-server per test file, started before its tests and stopped after them, with an admin
// connection and a fresh key prefix per test (so tests never see each other's keys).
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { Redis } from 'ioredis';
import { type RedisServer, startRedis } from './redis-server.js';

export interface RedisSuite {
  readonly server: RedisServer;
  /** A plain client for reading and writing the store's keys behind its back. */
  readonly admin: Redis;
  /** A prefix no other test of this process uses. */
  nextPrefix(): string;
}

/** Registers the file's before/after hooks; read `server` and `admin` inside tests, not at import. */
export function useRedisSuite(name: string): RedisSuite {
  let server: RedisServer | undefined;
  let admin: Redis | undefined;
  let prefixes = 0;
  before(async () => {
    server = await startRedis();
    admin = new Redis(server.url);
  });
  after(async () => {
    admin?.disconnect();
    await server?.stop();
  });
  return {
    get server() { return server!; },
    get admin() { return admin!; },
    nextPrefix: () => `${name}-${process.pid}-${++prefixes}`,
  };
}

/**
 * Polls `check` until it holds (for events seen only from outside, such as a MONITOR line): fails
 * naming `what` after `ms`. Not a wait before an assertion: the condition is the assertion.
 */
export async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
