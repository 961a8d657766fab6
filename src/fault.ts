/**
 * Connection faults a rule may force instead of a reply: their types and the cross-field checks of
 * their input fields (`fault`, `afterBytes`, `bytesPerSecond`, `tls`).
 */
import type { ErrorDetail } from './errors.js';
import type { Phase } from './rule-input.js';

/** Kinds of connection fault. */
export type FaultKind = 'disconnect' | 'reset' | 'hang' | 'throttle' | 'tls';

/** What goes wrong at STARTTLS: not advertised, refused with `454 4.7.0`, or a handshake aborted. */
export type TlsFault = 'unavailable' | 'refuse' | 'fail';

/**
 * A connection fault, performed by the receiving server at the rule's phase.
 *
 * - `disconnect`: close without a reply; `reset`: the same with a TCP reset. At `data` after the
 *   whole message (before the final reply), or after `afterBytes` octets of it when set.
 * - `hang`: read the command, never answer; the server closes after the rule's `delay` when set.
 * - `throttle`: this reply and every later one on the connection at most `bytesPerSecond`.
 * - `tls`: at STARTTLS (phase `connect`).
 *
 * @example
 * ```ts
 * await ic.add({ domain: 'example.com', fault: 'disconnect', phase: 'data', times: 1 })
 * ic.check({ recipient: 'a@example.com', phase: 'data' })?.fault // { kind: 'disconnect', afterBytes: undefined }
 * ```
 */
export type Fault =
  | { readonly kind: 'disconnect' | 'reset'; readonly afterBytes: number | undefined }
  | { readonly kind: 'hang' }
  | { readonly kind: 'throttle'; readonly bytesPerSecond: number }
  | { readonly kind: 'tls'; readonly tls: TlsFault };

/** The raw fault fields of a rule input, already through the schema. */
export interface FaultFields {
  readonly fault?: FaultKind | undefined;
  readonly afterBytes?: number | string | undefined;
  readonly bytesPerSecond?: number | string | undefined;
  readonly tls?: TlsFault | undefined;
}

/** Largest `afterBytes` and `bytesPerSecond` (1 GiB): anything larger is a unit mistake. */
export const MAX_FAULT_BYTES = 2 ** 30;

function bytes(field: string, raw: number | string | undefined, min: number, add: (d: ErrorDetail) => void): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > MAX_FAULT_BYTES) {
    add({ code: 'out_of_range', param: field, message: `${field} must be an integer from ${min} to ${MAX_FAULT_BYTES} (got ${String(raw)})` });
    return undefined;
  }
  return value;
}

const FROZEN_HANG: Fault = Object.freeze({ kind: 'hang' });

/**
 * @internal The fault of a rule input, or `undefined` for a reply rule. Reports, naming the field, a
 * fault option without its fault or with another one, a missing option, and a phase the fault cannot
 * have. `raw` holds the fields that passed the schema, `given` the input as it came; `phase` is the
 * input's phase (undefined when not given).
 */
export function parseFault(raw: FaultFields, given: FaultFields, phase: Phase | undefined, add: (d: ErrorDetail) => void): Fault | undefined {
  const { fault } = raw;
  const misplaced = (field: keyof FaultFields, needs: string) =>
    add({ code: 'mutually_exclusive', param: field, message: `${field} applies only to ${needs}` });
  if (raw.afterBytes !== undefined && fault !== 'disconnect' && fault !== 'reset') misplaced('afterBytes', 'fault disconnect or reset');
  if (raw.bytesPerSecond !== undefined && fault !== 'throttle') misplaced('bytesPerSecond', 'fault throttle');
  if (raw.tls !== undefined && fault !== 'tls') misplaced('tls', 'fault tls');
  switch (fault) {
    case undefined: return undefined;
    case 'disconnect':
    case 'reset': {
      const afterBytes = bytes('afterBytes', raw.afterBytes, 0, add);
      if (afterBytes !== undefined && phase !== 'data') {
        add({ code: 'mutually_exclusive', param: 'afterBytes', message: 'afterBytes cuts a message: it needs phase data' });
      }
      return Object.freeze({ kind: fault, afterBytes });
    }
    case 'hang': return FROZEN_HANG;
    case 'throttle': {
      if (raw.bytesPerSecond === undefined) {
        if (given.bytesPerSecond !== undefined) return undefined; // already reported by the schema
        add({ code: 'required', param: 'bytesPerSecond', message: 'bytesPerSecond is required with fault throttle' });
        return undefined;
      }
      const bytesPerSecond = bytes('bytesPerSecond', raw.bytesPerSecond, 1, add);
      return bytesPerSecond === undefined ? undefined : Object.freeze({ kind: 'throttle', bytesPerSecond });
    }
    case 'tls':
      if (raw.tls === undefined) {
        if (given.tls !== undefined) return undefined; // already reported by the schema
        add({ code: 'required', param: 'tls', message: 'tls (unavailable, refuse or fail) is required with fault tls' });
        return undefined;
      }
      if (phase !== undefined && phase !== 'connect') {
        add({ code: 'mutually_exclusive', param: 'phase', message: 'fault tls happens at STARTTLS, before any transaction: phase must be connect (the default for it)' });
      }
      return Object.freeze({ kind: 'tls', tls: raw.tls });
  }
}
