/**
 * Commands of `RedisStore` with a deadline, and what a failure means: certainly not applied
 * (`StoreUnavailableError`) or possibly applied (`StoreOutcomeUnknownError`, for commands that write).
 */
import type { Redis } from 'ioredis';
import { SmtpInterceptError, StoreOutcomeUnknownError, StoreUnavailableError } from '../index.js';

export class RedisCommands {
  readonly #client: Redis;
  readonly #timeoutMs: number;
  #wasReady = false;

  constructor(client: Redis, timeoutMs: number) {
    this.#client = client;
    this.#timeoutMs = timeoutMs;
  }

  /** Runs `op` within the timeout; `writes` says whether a failure after sending may have changed data. */
  async run<T>(what: string, op: () => Promise<T>, writes = false): Promise<T> {
    await this.#connect();
    if (this.#client.status !== 'ready') {
      throw new StoreUnavailableError(`${what}: Redis is not connected (${this.#client.status})`);
    }
    this.#wasReady = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        op(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
        }),
      ]);
    } catch (err) {
      if (err instanceof SmtpInterceptError) throw err;
      // Redis answered with an error, or ioredis never sent the command: certainly not applied. Anything
      // else (no answer in time, connection lost, retries exhausted) may have been applied.
      const notSent = (err as Error).name === 'ReplyError' || /Stream isn't writeable/.test((err as Error).message);
      if (writes && !notSent) {
        throw new StoreOutcomeUnknownError(`${what}: ${(err as Error).message}; it may have been applied (retrying is safe)`, { cause: err });
      }
      throw new StoreUnavailableError(`${what}: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for the first connection (up to the command timeout); afterwards, not being connected fails at once. */
  async #connect(): Promise<void> {
    const status = this.#client.status;
    if (status === 'ready') { this.#wasReady = true; return; }
    if (this.#wasReady || (status !== 'wait' && status !== 'connecting' && status !== 'connect')) return;
    if (status === 'wait') void this.#client.connect().catch(() => undefined);
    await new Promise<void>((resolve) => {
      const done = () => { clearTimeout(timer); this.#client.off('ready', done); resolve(); };
      const timer = setTimeout(done, this.#timeoutMs);
      this.#client.on('ready', done);
    });
  }
}
