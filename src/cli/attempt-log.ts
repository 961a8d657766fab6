/**
 * `serve`'s log of recent attempts behind `GET /v1/attempts`: a fixed-size ring (the recorder of
 * `smtp-intercept/testing` keeps everything, which a long-running server cannot).
 */
import type { Attempt, ForcedResult, Interceptor, Outcome } from '../index.js';

/**
 * One entry as `GET /v1/attempts` returns it. Every key is always present: `null` where the attempt
 * lacked the field or nothing was forced, so clients in any language read a fixed shape.
 */
export interface AttemptEntry {
  /** ISO 8601 time of the check. */
  readonly at: string;
  readonly attempt: {
    readonly pool: string | null;
    readonly mta: string | null;
    readonly domain: string | null;
    readonly ip: string | null;
    readonly recipient: string | null;
    readonly sender: string | null;
    readonly mx: string | null;
    readonly tags: readonly string[];
    readonly phase: string | null;
    /** Whether the command came over TLS (STARTTLS); `null` where the checker did not say. */
    readonly tls: boolean | null;
  };
  readonly forced: boolean;
  /** Id of the rule that forced the reply. */
  readonly rule: string | null;
  /** The reply line given on the wire for a forced result. */
  readonly reply: string | null;
  /** The connection fault played instead of a reply (`disconnect`, `reset`, `hang`, `throttle`, `tls`). */
  readonly fault: string | null;
  /** `passed` when no rule forced the attempt. */
  readonly outcome: Outcome | 'passed';
}

const field = (value: string | undefined): string | null => (value === undefined || value === '' ? null : value);

/** The entry of one checked attempt, as `GET /v1/attempts` and its live stream give it. */
export function attemptEntry(attempt: Attempt, result: ForcedResult | undefined): AttemptEntry {
  const tags = attempt.tags === undefined ? [] : typeof attempt.tags === 'string' ? [attempt.tags] : [...attempt.tags];
  return {
    at: new Date().toISOString(),
    attempt: {
      pool: field(attempt.pool), mta: field(attempt.mta), domain: field(attempt.domain), ip: field(attempt.ip),
      recipient: field(attempt.recipient), sender: field(attempt.sender), mx: field(attempt.mx), tags, phase: attempt.phase ?? null,
      tls: typeof attempt.tls === 'boolean' ? attempt.tls : null,
    },
    forced: result !== undefined,
    rule: result?.rule.id ?? null,
    reply: result?.reply ?? null,
    fault: result?.fault?.kind ?? null,
    outcome: result?.outcome ?? 'passed',
  };
}

/**
 * The last `capacity` attempts an interceptor checked, oldest first.
 *
 * @example
 * ```ts
 * const log = new AttemptLog(interceptor, 1000)
 * res.end(JSON.stringify(log.entries()))
 * ```
 */
export class AttemptLog {
  readonly #ring: (AttemptEntry | undefined)[];
  #next = 0;
  #stop: () => void;

  /** Starts observing `interceptor`. */
  constructor(interceptor: Interceptor, readonly capacity: number) {
    this.#ring = new Array<AttemptEntry | undefined>(capacity);
    this.#stop = interceptor.observe((attempt, result) => {
      this.#ring[this.#next % capacity] = attemptEntry(attempt, result);
      this.#next++;
    });
  }

  /** The kept entries, oldest first. */
  entries(): AttemptEntry[] {
    const out: AttemptEntry[] = [];
    for (let i = Math.max(0, this.#next - this.capacity); i < this.#next; i++) out.push(this.#ring[i % this.capacity]!);
    return out;
  }

  /** Stops observing. */
  close(): void {
    this.#stop();
  }
}
