/**
 * `InterceptorOptions` checked and defaulted in one place: every bad option is named in one
 * `ValidationError`, before the interceptor builds anything.
 */
import { ValidationError } from './errors.js';
import { MAX_TIMER_MS } from './expiry-timer.js';
import type { InterceptorOptions } from './interceptor-types.js';
import { seededRandom } from './prng.js';

/** The options an interceptor runs with, defaults applied. */
export interface ResolvedOptions {
  readonly cacheSize: number;
  readonly now: () => number;
  readonly random: () => number;
  readonly stateSize: number;
  readonly counterFlushMs: number;
}

/**
 * Checks `options` and applies their defaults (see `InterceptorOptions`).
 * @throws {ValidationError} naming every bad option.
 */
export function resolveOptions(options: InterceptorOptions): ResolvedOptions {
  const { cacheSize = 10_000, now = Date.now, random, seed, stateSize = 100_000, counterFlushMs = 1000 } = options;
  const problems = [];
  if (!Number.isInteger(cacheSize) || cacheSize < 0) problems.push({ code: 'out_of_range', message: 'cacheSize must be an integer >= 0', param: 'cacheSize' });
  if (!Number.isInteger(stateSize) || stateSize < 1) problems.push({ code: 'out_of_range', message: 'stateSize must be an integer >= 1', param: 'stateSize' });
  if (!Number.isInteger(counterFlushMs) || counterFlushMs < 0 || counterFlushMs > MAX_TIMER_MS) problems.push({ code: 'out_of_range', message: `counterFlushMs must be an integer from 0 to ${MAX_TIMER_MS}`, param: 'counterFlushMs' });
  if (random !== undefined && seed !== undefined) problems.push({ code: 'mutually_exclusive', message: 'random and seed may not be used together', param: 'seed' });
  if (seed !== undefined && !Number.isFinite(seed)) problems.push({ code: 'invalid_type', message: 'seed must be a finite number', param: 'seed' });
  if (problems.length > 0) throw new ValidationError(problems);
  return { cacheSize, now, random: random ?? (seed !== undefined ? seededRandom(seed) : Math.random), stateSize, counterFlushMs };
}
