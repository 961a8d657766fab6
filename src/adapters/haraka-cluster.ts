/**
 * @internal Haraka's cluster mode (`nodes` unset or >= 1 in smtp.ini): the workers deliver, the primary
 * holds the rules. A worker asks the primary over Node's cluster IPC channel for each delivery's
 * decision, so every worker applies every acknowledged change, `times` is one budget and hits are
 * instance totals (see docs/haraka.md, "Process models").
 */
import cluster, { type Worker } from 'node:cluster';
import type { Attempt } from '../index.js';
import type { HarakaInterceptOptions, HarakaMxRoute } from './haraka-decide.js';

/** Marks our messages among Haraka's own (`cmd`, `event`) on the same channel. */
const TAG = 'smtp-intercept';

/** What a worker asks: the plugin's options once, then one decision per delivery. */
export type PrimaryRequest =
  | { op: 'hello' }
  | { op: 'decide'; domain: string; attempt: Attempt; recipients: string[] };

interface Envelope { [TAG]: 1; id: number }
type Reply = Envelope & ({ value: unknown } | { error: string });

function isOurs(msg: unknown): msg is Envelope {
  return typeof msg === 'object' && msg !== null && (msg as Record<string, unknown>)[TAG] === 1
    && Number.isSafeInteger((msg as Record<string, unknown>)['id']);
}

function isRequest(msg: Envelope): msg is Envelope & PrimaryRequest {
  const m = msg as unknown as Record<string, unknown>;
  if (m['op'] === 'hello') return true;
  return m['op'] === 'decide' && typeof m['domain'] === 'string' && typeof m['attempt'] === 'object' && m['attempt'] !== null
    && Array.isArray(m['recipients']) && (m['recipients'] as unknown[]).every((r) => typeof r === 'string');
}

/**
 * In the primary: answers the workers' requests with `handle`. Returns the function that stops it.
 * Replies to a worker that died meanwhile are dropped (its delivery died with it).
 */
export function serveWorkers(handle: (request: PrimaryRequest) => Promise<unknown>): () => void {
  const onMessage = (worker: Worker, msg: unknown) => {
    if (!isOurs(msg)) return;
    const { id } = msg;
    const send = (reply: Reply) => {
      if (worker.isConnected()) worker.send(reply, undefined, () => undefined);
    };
    // A worker running another version of the plugin must hear why, not wait for its timeout.
    if (!isRequest(msg)) return send({ [TAG]: 1, id, error: 'malformed request (is every process running the same smtp-intercept?)' });
    handle(msg).then(
      (value) => send({ [TAG]: 1, id, value: value ?? null }),
      (err: unknown) => send({ [TAG]: 1, id, error: err instanceof Error ? err.message : String(err) }),
    );
  };
  cluster.on('message', onMessage);
  return () => { cluster.off('message', onMessage); };
}

/** Why a worker could not get an answer from the primary. */
export class PrimaryUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrimaryUnavailableError';
  }
}

interface Pending { ok: (value: unknown) => void; fail: (err: Error) => void; timer: NodeJS.Timeout }

/** In a worker: requests to the primary, each answered or failed within `timeoutMs`. */
export class PrimaryLink {
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  readonly #onMessage = (msg: unknown) => this.#receive(msg);
  readonly #onDisconnect = () => this.#failAll('the IPC channel to the primary process is closed');

  /**
   * @param timeoutMs how long a request may wait for the primary (a delivery waits that long at most).
   * @param maxPending requests waiting at once; more are refused rather than queued without bound.
   */
  constructor(private readonly timeoutMs = 10_000, private readonly maxPending = 10_000) {
    process.on('message', this.#onMessage);
    process.on('disconnect', this.#onDisconnect);
  }

  /** The primary's options for this plugin (rejects with the primary's reason when it is not started). */
  async hello(): Promise<HarakaInterceptOptions> {
    return (await this.#request({ op: 'hello' })) as HarakaInterceptOptions;
  }

  /** The primary's decision for one delivery: the MX to answer `get_mx` with, or `undefined`. */
  async decide(domain: string, attempt: Attempt, recipients: string[]): Promise<HarakaMxRoute | undefined> {
    const value = await this.#request({ op: 'decide', domain, attempt, recipients });
    return value === null ? undefined : (value as HarakaMxRoute);
  }

  #request(request: PrimaryRequest): Promise<unknown> {
    return new Promise((ok, fail) => {
      if (typeof process.send !== 'function' || !process.connected) {
        return fail(new PrimaryUnavailableError('no IPC channel to the primary process'));
      }
      if (this.#pending.size >= this.maxPending) {
        return fail(new PrimaryUnavailableError(`${this.maxPending} requests already wait for the primary process`));
      }
      const id = this.#next++;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        fail(new PrimaryUnavailableError(`the primary process did not answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.#pending.set(id, { ok, fail, timer });
      process.send({ [TAG]: 1, id, ...request }, undefined, {}, (err: Error | null) => {
        if (err) this.#settle(id, undefined, new PrimaryUnavailableError(`sending to the primary process failed: ${err.message}`));
      });
    });
  }

  #receive(msg: unknown): void {
    if (typeof msg !== 'object' || msg === null) return;
    const m = msg as Record<string, unknown>;
    if (m[TAG] !== 1 || typeof m['id'] !== 'number') return;
    if (typeof m['error'] === 'string') this.#settle(m['id'], undefined, new PrimaryUnavailableError(m['error']));
    else this.#settle(m['id'], m['value'], undefined);
  }

  #settle(id: number, value: unknown, err: Error | undefined): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (err) pending.fail(err);
    else pending.ok(value);
  }

  #failAll(reason: string): void {
    for (const id of [...this.#pending.keys()]) this.#settle(id, undefined, new PrimaryUnavailableError(reason));
  }

  /** Stops listening; requests still waiting fail. */
  close(): void {
    process.off('message', this.#onMessage);
    process.off('disconnect', this.#onDisconnect);
    this.#failAll('the plugin is shutting down');
  }
}
