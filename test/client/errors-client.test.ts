// The client against a real loopback server, including servers that fail before they succeed.
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  ApiError, AuthenticationError, AuthorizationError, ErrorsClient, NotFoundError, RateLimitError, ValidationError,
} from '../../src/client/index.js';
import { createErrorsHandler } from '../../src/http/index.js';
import { Interceptor, ValidationError as CoreValidationError } from '../../src/index.js';
import { listen, type Running } from '../helpers/server.js';

const WRITE = 'client-write-token';
const READ = 'client-read-token';
const fast = { baseMs: 5, maxMs: 20, totalMs: 2000 };

describe('ErrorsClient', () => {
  let ic: Interceptor;
  let srv: Running;
  let client: ErrorsClient;
  before(async () => {
    ic = new Interceptor();
    srv = await listen(createErrorsHandler(ic, { tokens: [WRITE, { token: READ, scope: 'read' }] }));
    client = new ErrorsClient({ baseUrl: srv.url, token: WRITE, backoff: fast });
  });
  after(() => srv.close());
  beforeEach(() => ic.clear());

  it('adds, lists, gets and removes rules', async () => {
    const added = await client.add({ domain: 'gmail.com', code: 421, times: 2 });
    assert.equal(added.domain, 'gmail.com');
    assert.equal(added.code, 421);
    assert.equal(added.times, 2);
    assert.equal((await client.add({ domain: 'gmail.com', code: 550 })).id, added.id, 'add is an upsert');
    await client.add({ mta: '1.2.3.4', domain: 'gmail.com', code: 421, cluster: true });
    assert.equal((await client.list()).length, 2);
    assert.equal((await client.list({ cluster: true })).length, 1);
    assert.equal((await client.list({ domain: 'GMAIL.com', mta: '1.2.3.4' })).length, 1);
    assert.equal((await client.get(added.id)).code, 550);
    assert.equal((await client.remove({ domain: 'gmail.com' })).id, added.id);
    assert.equal(ic.size, 1);
  });

  it('sends and returns a multi-line description as an array of lines', async () => {
    const lines: readonly string[] = ['mailbox unavailable', 'see https://example.org/help'];
    const added = await client.add({ domain: 'gmail.com', code: 550, extended: '5.2.1', description: lines });
    assert.deepEqual(added.description, lines);
    const got: string | string[] | undefined = (await client.get(added.id)).description;
    assert.deepEqual(got, lines);
    await assert.rejects(client.add({ domain: 'gmail.com', code: 550, description: ['ok', 'na\u00efve'] }),
      (err: unknown) => err instanceof ValidationError && err.param === 'description' && /description\[1\]/.test(err.message));
  });

  it('throws typed errors with status, code, param, details and request id', async () => {
    const validation = await client.add({ pool: 'p', mta: '1.2.3.4', code: 550 }).catch((e: unknown) => e);
    assert.ok(validation instanceof ValidationError);
    assert.ok(validation instanceof CoreValidationError, 'also the core ValidationError');
    assert.equal(validation.status, 400);
    assert.equal(validation.code, 'mutually_exclusive');
    assert.equal(validation.param, 'mta');
    assert.equal(validation.details[0]?.param, 'mta');
    assert.match(validation.requestId!, /^[0-9a-f-]{36}$/);

    const notFound = await client.get('00000000000000000000').catch((e: unknown) => e);
    assert.ok(notFound instanceof NotFoundError);
    assert.equal(notFound.status, 404);
    assert.ok((await client.remove({ domain: 'none.example' }).catch((e: unknown) => e)) instanceof NotFoundError);

    const unauthenticated = await new ErrorsClient({ baseUrl: srv.url, token: 'wrong' }).list().catch((e: unknown) => e);
    assert.ok(unauthenticated instanceof AuthenticationError);
    assert.equal(unauthenticated.status, 401);
    assert.equal(unauthenticated.code, 'invalid_token');

    const reader = new ErrorsClient({ baseUrl: srv.url, token: READ });
    assert.deepEqual(await reader.list(), []);
    const forbidden = await reader.add({ code: 421 }).catch((e: unknown) => e);
    assert.ok(forbidden instanceof AuthorizationError);
    assert.equal(forbidden.status, 403);
  });
});

/** A server that fails the first `failures` requests with `status` (and headers), then serves the API. */
async function flaky(failures: number, status: number, headers: Record<string, string> = {}) {
  const ic = new Interceptor();
  const handler = createErrorsHandler(ic, { auth: false });
  const seen: number[] = [];
  const srv = await listen((req: IncomingMessage, res: ServerResponse) => {
    seen.push(performance.now());
    if (seen.length <= failures) {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify({ error: { type: status === 429 ? 'rate_limit_error' : 'api_error', code: 'busy', message: 'try later', request_id: 'x' } }));
      return;
    }
    handler(req, res);
  });
  return { ic, srv, seen };
}

describe('ErrorsClient retries', () => {
  it('retries 503 with backoff, then succeeds', async () => {
    const { srv, seen, ic } = await flaky(2, 503);
    try {
      const rule = await new ErrorsClient({ baseUrl: srv.url, backoff: fast }).add({ domain: 'gmail.com', code: 421 });
      assert.equal(rule.code, 421);
      assert.equal(seen.length, 3);
      assert.equal(ic.size, 1);
    } finally {
      await srv.close();
    }
  });

  it('retries 502 and 504 too, and gives up after `retries` retries', async () => {
    for (const status of [502, 504]) {
      const { srv, seen } = await flaky(10, status);
      try {
        const err = await new ErrorsClient({ baseUrl: srv.url, retries: 2, backoff: fast }).list().catch((e: unknown) => e);
        assert.ok(err instanceof ApiError);
        assert.equal(err.status, status);
        assert.equal(seen.length, 3, 'one attempt plus two retries');
      } finally {
        await srv.close();
      }
    }
  });

  it('waits for Retry-After on 429, then succeeds', async () => {
    const { srv, seen } = await flaky(1, 429, { 'retry-after': '1' });
    try {
      assert.deepEqual(await new ErrorsClient({ baseUrl: srv.url, backoff: fast }).list(), []);
      assert.equal(seen.length, 2);
      assert.ok(seen[1]! - seen[0]! >= 950, `waited ${Math.round(seen[1]! - seen[0]!)} ms`);
    } finally {
      await srv.close();
    }
  });

  it('gives up with RateLimitError when Retry-After exceeds the total delay cap', async () => {
    const { srv, seen } = await flaky(5, 429, { 'retry-after': '120' });
    try {
      const err = await new ErrorsClient({ baseUrl: srv.url, backoff: fast }).list().catch((e: unknown) => e);
      assert.ok(err instanceof RateLimitError);
      assert.equal(err.retryAfter, 120);
      assert.equal(seen.length, 1);
    } finally {
      await srv.close();
    }
  });

  it('never retries 400, 401, 403, 404, 405, 413, 415, 422', async () => {
    for (const status of [400, 401, 403, 404, 405, 413, 415, 422]) {
      const { srv, seen } = await flaky(10, status);
      try {
        await new ErrorsClient({ baseUrl: srv.url, backoff: fast }).list().catch(() => undefined);
        assert.equal(seen.length, 1, `status ${status}`);
      } finally {
        await srv.close();
      }
    }
  });

  it('retries network errors, then reports them as ApiError network_error', async () => {
    const { srv } = await flaky(0, 200);
    const url = srv.url;
    await srv.close(); // nothing listens on that port any more
    const started = performance.now();
    const err = await new ErrorsClient({ baseUrl: url, retries: 2, backoff: fast }).list().catch((e: unknown) => e);
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 0);
    assert.equal(err.code, 'network_error');
    assert.ok(performance.now() - started < 2000);
  });

  it('validates its options', () => {
    assert.throws(() => new ErrorsClient({ baseUrl: 'not a url' }), (err: ApiError) => err.param === 'baseUrl');
    assert.throws(() => new ErrorsClient({ baseUrl: 'http://127.0.0.1', retries: -1 }), (err: ApiError) => err.param === 'retries');
  });
});
