/**
 * `GET /v1/attempts/stream`: every checked attempt as a server-sent event, as it happens. The
 * dashboard reads it with `fetch` (an `EventSource` cannot send the bearer token). Bounded: at most
 * {@link LIVE_LIMITS}.streams open streams, and a stream whose reader falls behind by more than
 * {@link LIVE_LIMITS}.buffered bytes is closed rather than buffered without end.
 */
import type { ServerResponse } from 'node:http';
import type { Interceptor } from '../index.js';
import { attemptEntry } from './attempt-log.js';

/** Bounds of the live streams. */
export const LIVE_LIMITS = Object.freeze({ streams: 32, buffered: 1024 * 1024, heartbeatMs: 15_000 });

/**
 * The open streams of one interceptor. The interceptor is observed only while a stream is open, so
 * `serve` without a dashboard open pays nothing per check.
 *
 * @example
 * ```ts
 * const live = new LiveAttempts(interceptor)
 * if (!live.open(res)) res.writeHead(503).end()
 * ```
 */
export class LiveAttempts {
  readonly #streams = new Set<ServerResponse>();
  #stop: (() => void) | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #id = 0;

  constructor(private readonly interceptor: Interceptor) {}

  /** Open streams. */
  get size(): number {
    return this.#streams.size;
  }

  /** Starts an event stream on `res`; `false` (nothing written) when {@link LIVE_LIMITS}.streams are open. */
  open(res: ServerResponse, headers: Readonly<Record<string, string>> = {}): boolean {
    if (this.#streams.size >= LIVE_LIMITS.streams) return false;
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    // A comment line, so the reader sees the stream is open before the first attempt.
    res.write(': open\n\n');
    this.#streams.add(res);
    res.once('close', () => this.#drop(res));
    if (!this.#stop) {
      this.#stop = this.interceptor.observe((attempt, result) => this.#send(`id: ${++this.#id}\ndata: ${JSON.stringify(attemptEntry(attempt, result))}\n\n`));
      this.#heartbeat = setInterval(() => this.#send(': ping\n\n'), LIVE_LIMITS.heartbeatMs);
      this.#heartbeat.unref();
    }
    return true;
  }

  /** Ends every stream and stops observing. */
  close(): void {
    for (const res of this.#streams) res.end();
    this.#streams.clear();
    this.#idle();
  }

  #send(text: string): void {
    for (const res of this.#streams) {
      // A reader this far behind would make the server buffer without limit: end its stream (the
      // dashboard says so and reconnects).
      if (res.writableLength > LIVE_LIMITS.buffered) {
        this.#streams.delete(res);
        res.end();
      } else {
        res.write(text);
      }
    }
  }

  #drop(res: ServerResponse): void {
    this.#streams.delete(res);
    if (this.#streams.size === 0) this.#idle();
  }

  #idle(): void {
    this.#stop?.();
    this.#stop = undefined;
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }
}
