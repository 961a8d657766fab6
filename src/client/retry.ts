/**
 * The client's retry policy. A request is retried only when repeating it is safe and may help:
 * 429 (after `Retry-After` when given), 502/503/504 and network failures, with exponential backoff and
 * full jitter, a capped number of attempts and a capped total wait. POST is an upsert and DELETE of an
 * absent rule is a 404, so every request of this API is safe to repeat.
 */

/** Backoff settings of {@link ErrorsClient}. */
export interface BackoffOptions {
  /** First backoff ceiling; attempt n waits a random time in [0, baseMs * 2^n]. @default 100 */
  baseMs?: number;
  /** Ceiling of one wait. @default 2000 */
  maxMs?: number;
  /** Ceiling of all waits of one call together; a wait that would exceed it ends the retries. @default 10000 */
  totalMs?: number;
}

const RETRYABLE = new Set([429, 502, 503, 504]);

/** @internal Whether a response status (0: no response) is worth retrying. */
export function retryable(status: number): boolean {
  return status === 0 || RETRYABLE.has(status);
}

/** @internal Seconds of a `Retry-After` header (delta-seconds or HTTP date), if valid. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

/** @internal The wait before retry number `attempt` (0-based): server's Retry-After, else full jitter. */
export function backoffMs(attempt: number, retryAfter: number | undefined, options: Required<BackoffOptions>, random: () => number): number {
  if (retryAfter !== undefined) return retryAfter * 1000;
  return Math.floor(random() * Math.min(options.maxMs, options.baseMs * 2 ** attempt));
}
