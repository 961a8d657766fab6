/**
 * Events of an `Interceptor` that user code cannot turn against the engine: a listener or observer that
 * throws never unwinds the caller (a `check` after its side effects, a store change half applied), and
 * an `error` nobody listens to is not lost.
 */
import type { EventEmitter } from 'eventemitter3';
import { SmtpInterceptError } from './errors.js';
import type { InterceptorEvents } from './interceptor-types.js';

type Emitter = EventEmitter<InterceptorEvents>;
type Notified = 'rule:added' | 'rule:updated' | 'rule:removed' | 'match';

const asError = (value: unknown): Error => (value instanceof Error ? value : new Error(String(value)));

/** The error reported for user code (a listener, an observer) that threw. */
export function listenerFailed(what: string, err: unknown): SmtpInterceptError {
  return new SmtpInterceptError('listener_failed', `${what} threw: ${asError(err).message}`, { cause: err });
}

/**
 * Reports a failure nobody awaits as an `error` event. With no `error` listener (or one that throws) it
 * becomes a process warning, printed on stderr by default: never lost, and never a crash of a delivery
 * worker over a background cleanup (node:events would throw, where nothing could catch it).
 */
export function report(emitter: Emitter, err: unknown): void {
  try {
    if (emitter.emit('error', err)) return;
  } catch (thrown) {
    process.emitWarning(asError(thrown)); // the error listener's own failure
  }
  process.emitWarning(asError(err));
}

/** Emits `event`; a listener that throws is reported as an `error`, never thrown to the caller. */
export function notify<K extends Notified>(emitter: Emitter, event: K, ...args: Parameters<InterceptorEvents[K]>): void {
  try {
    (emitter.emit as (event: K, ...args: Parameters<InterceptorEvents[K]>) => boolean)(event, ...args);
  } catch (err) {
    report(emitter, listenerFailed(`a '${event}' listener`, err));
  }
}
