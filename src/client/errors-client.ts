/**
 * `ErrorsClient`: a typed client for the `/v1/errors` REST API (ours, and MailerQ's request format).
 */
import { randomUUID } from 'node:crypto';
import type { PageOptions, RuleFilter, RuleInput, RuleJSON } from '../index.js';
import { ApiError, type ApiErrorFields, apiError } from './errors.js';
import { type BackoffOptions, backoffMs, retryable, retryAfterSeconds } from './retry.js';

/** Options of {@link ErrorsClient}. */
export interface ErrorsClientOptions {
  /** Where the server listens, e.g. `http://127.0.0.1:8025`. The API path is appended. */
  baseUrl: string;
  /** Bearer token. */
  token?: string;
  /** Retries after the first attempt for retryable failures. @default 3 */
  retries?: number;
  /** Backoff between retries. */
  backoff?: BackoffOptions;
  /** Timeout of one attempt, in milliseconds. @default 10000 */
  timeoutMs?: number;
  /** Path of the API on the server. @default '/v1/errors' */
  basePath?: string;
  /** A `fetch` implementation. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Source of jitter in [0, 1). @default Math.random */
  random?: () => number;
}

type Method = 'GET' | 'POST' | 'DELETE';

function typeForStatus(status: number): string {
  if (status === 400 || status === 405 || status === 415 || status === 422) return 'validation_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'authorization_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'payload_too_large_error';
  if (status === 429) return 'rate_limit_error';
  return 'api_error';
}

/** One page of {@link ErrorsClient.listPage}. */
export interface RuleJSONPage {
  /** Up to `limit` rules in id order. */
  rules: RuleJSON[];
  /** The `startingAfter` of the next page (the server's `X-Next-Cursor`); `undefined` on the last page. */
  next: string | undefined;
}

/** Options of {@link ErrorsClient.iterate}. */
export interface IterateOptions {
  /** Rules fetched per request, 1 to the server's maximum (1000). @default 100 */
  pageSize?: number;
}

function queryString(filter: object | undefined): string {
  if (filter === undefined) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filter)) if (value !== undefined) params.append(key, String(value));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A client of the `/v1/errors` REST API. Methods resolve to rules in their JSON form and reject with the
 * typed errors of `smtp-intercept/client` (`ValidationError`, `AuthenticationError`, `AuthorizationError`,
 * `NotFoundError`, `RateLimitError`, `ApiError`).
 *
 * @example
 * ```ts
 * const client = new ErrorsClient({ baseUrl: 'http://127.0.0.1:8025', token })
 * await client.add({ domain: 'gmail.com', code: 421, times: 2 })
 * const rules = await client.list({ domain: 'gmail.com' })
 * ```
 */
export class ErrorsClient {
  readonly #url: string;
  readonly #token: string | undefined;
  readonly #retries: number;
  readonly #backoff: Required<BackoffOptions>;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #random: () => number;

  constructor(options: ErrorsClientOptions) {
    const { baseUrl, token, retries = 3, backoff = {}, timeoutMs = 10_000, basePath = '/v1/errors', fetch: fetchImpl = globalThis.fetch, random = Math.random } = options;
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch (err) {
      throw new ApiError({ status: 0, type: 'client_error', code: 'invalid_option', message: `baseUrl "${baseUrl}" is not a URL`, param: 'baseUrl', cause: err });
    }
    if (!Number.isInteger(retries) || retries < 0) {
      throw new ApiError({ status: 0, type: 'client_error', code: 'invalid_option', message: 'retries must be an integer >= 0', param: 'retries' });
    }
    this.#url = `${url.origin}${url.pathname.replace(/\/+$/, '')}${basePath}`;
    this.#token = token;
    this.#retries = retries;
    this.#backoff = { baseMs: backoff.baseMs ?? 100, maxMs: backoff.maxMs ?? 2000, totalMs: backoff.totalMs ?? 10_000 };
    this.#timeoutMs = timeoutMs;
    this.#fetch = fetchImpl;
    this.#random = random;
  }

  /** Active rules, optionally filtered by selector fields and `cluster`. */
  list(filter?: RuleFilter): Promise<RuleJSON[]> {
    return this.#request('GET', queryString(filter));
  }

  /**
   * One page of the active rules in id order (`GET /v1/errors?limit=&starting_after=`); pass `next` as
   * the following call's `startingAfter` until it is `undefined`.
   */
  async listPage(filter?: RuleFilter, page: PageOptions = {}): Promise<RuleJSONPage> {
    const query = { ...filter, limit: page.limit, starting_after: page.startingAfter };
    const { value, headers } = await this.#exchange<RuleJSON[]>('GET', queryString(query));
    return { rules: value, next: headers.get('x-next-cursor') ?? undefined };
  }

  /**
   * Every active rule (optionally filtered), fetched page by page in id order; each page request is
   * retried as other calls are. A rule present for the whole walk is yielded exactly once, whatever is
   * added or removed meanwhile.
   *
   * @example
   * ```ts
   * for await (const rule of client.iterate({ domain: 'gmail.com' }, { pageSize: 500 })) console.log(rule.id)
   * ```
   */
  async *iterate(filter?: RuleFilter, options: IterateOptions = {}): AsyncGenerator<RuleJSON, void, undefined> {
    const limit = options.pageSize ?? 100;
    let startingAfter: string | undefined;
    do {
      const page = await this.listPage(filter, { limit, startingAfter });
      yield* page.rules;
      startingAfter = page.next;
    } while (startingAfter !== undefined);
  }

  /** The rule with this id. @throws {NotFoundError} when there is none. */
  get(id: string): Promise<RuleJSON> {
    return this.#request('GET', `/${encodeURIComponent(id)}`);
  }

  /** Creates a rule, or updates the rule with the same selector. */
  add(input: RuleInput): Promise<RuleJSON> {
    return this.#request('POST', '', input);
  }

  /** Removes the rule with this selector (`code` optional). @throws {NotFoundError} when there is none. */
  remove(selector: RuleInput): Promise<RuleJSON> {
    return this.#request('DELETE', '', selector);
  }

  async #request<T>(method: Method, path: string, body?: unknown): Promise<T> {
    return (await this.#exchange<T>(method, path, body)).value;
  }

  async #exchange<T>(method: Method, path: string, body?: unknown): Promise<{ value: T; headers: Headers }> {
    // One id for every attempt of a call, so server logs show the retries together.
    const requestId = randomUUID();
    const headers: Record<string, string> = { accept: 'application/json', 'x-request-id': requestId };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let waited = 0;
    for (let attempt = 0; ; attempt++) {
      const failure = await this.#attempt<T>(method, path, headers, payload, requestId);
      if (!(failure instanceof Error)) return failure;
      const retryAfter = failure.status === 429 ? (failure as { retryAfter?: number }).retryAfter : undefined;
      if (!retryable(failure.status) || attempt >= this.#retries) throw failure;
      const wait = backoffMs(attempt, retryAfter, this.#backoff, this.#random);
      if (waited + wait > this.#backoff.totalMs) throw failure;
      waited += wait;
      await sleep(wait);
    }
  }

  async #attempt<T>(method: Method, path: string, headers: Record<string, string>, body: string | undefined, requestId: string): Promise<{ value: T; headers: Headers } | (Error & ApiErrorFields)> {
    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(`${this.#url}${path}`, { method, headers, body: body ?? null, signal: AbortSignal.timeout(this.#timeoutMs) });
      text = await response.text();
    } catch (err) {
      return new ApiError({ status: 0, type: 'api_error', code: 'network_error', message: `request to ${this.#url} failed: ${(err as Error).message}`, requestId, cause: err });
    }
    const id = response.headers.get('x-request-id') ?? requestId;
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (response.ok) {
      if (json === undefined) return apiError({ status: response.status, type: 'api_error', code: 'invalid_response', message: 'the server answered without a JSON body', requestId: id });
      return { value: json as T, headers: response.headers };
    }
    const error = (json as { error?: { type?: unknown; code?: unknown; message?: unknown; param?: unknown; details?: unknown } } | undefined)?.error;
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    return apiError({
      status: response.status,
      type: str(error?.type) ?? typeForStatus(response.status),
      code: str(error?.code) ?? `http_${response.status}`,
      message: str(error?.message) ?? `HTTP ${response.status} ${response.statusText}`,
      param: str(error?.param),
      details: Array.isArray(error?.details) ? error.details as ApiErrorFields['details'] : undefined,
      requestId: id,
      retryAfter: retryAfterSeconds(response.headers.get('retry-after')),
    });
  }
}
