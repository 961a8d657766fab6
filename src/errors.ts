/**
 * Typed errors. The SMTP verdict itself is a value (`ForcedResult | undefined`), never an exception:
 * these are thrown only for bad input or a failed operation.
 */

/** One field problem inside a {@link ValidationError}. */
export interface ErrorDetail {
  /** Stable machine-readable code: `required`, `invalid_type`, `out_of_range`, `invalid_format`, `mutually_exclusive`, `unknown_field`. */
  readonly code: string;
  /** Human-readable explanation naming the field. */
  readonly message: string;
  /** The field the problem is about (`undefined` when it concerns the whole input). */
  readonly param?: string;
}

/**
 * Base class of every error this library throws. `code` is stable across releases; match on it, not on
 * `message`.
 */
export class SmtpInterceptError extends Error {
  /** Stable machine-readable code. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SmtpInterceptError';
    this.code = code;
  }
}

/**
 * A rule, selector or attempt was rejected. Every problem found is listed in `details` at once;
 * `code`, `message` and `param` repeat the first one.
 *
 * @example
 * ```ts
 * try { await ic.add({ code: 250, pool: 'a', mta: '10.0.0.1' }) }
 * catch (err) { if (err instanceof ValidationError) console.log(err.details) }
 * ```
 */
export class ValidationError extends SmtpInterceptError {
  /** Always `'validation_error'`, the same `type` the REST API reports. */
  readonly type = 'validation_error' as const;
  /** The field of the first problem. */
  readonly param: string | undefined;
  /** Every problem found, in field order. */
  readonly details: readonly ErrorDetail[];

  constructor(details: readonly ErrorDetail[], options?: { cause?: unknown }) {
    const first = details[0] ?? { code: 'invalid_request', message: 'invalid input' };
    const more = details.length > 1 ? ` (and ${details.length - 1} more problem${details.length > 2 ? 's' : ''})` : '';
    super(first.code, first.message + more, options);
    this.name = 'ValidationError';
    this.param = first.param;
    this.details = Object.freeze(details.map((d) => Object.freeze({ ...d })));
  }

  /** The REST API's error body shape (without `request_id`). */
  toJSON(): { type: 'validation_error'; code: string; message: string; param?: string; details: readonly ErrorDetail[] } {
    return {
      type: this.type,
      code: this.code,
      message: this.message,
      ...(this.param === undefined ? {} : { param: this.param }),
      details: this.details,
    };
  }
}
