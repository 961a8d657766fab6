// Random requests against a real server: never a 5xx, never a crash, always the one error shape, and
// the rule set changes only on a 2xx.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createErrorsHandler } from '../../src/http/index.js';
import { Interceptor } from '../../src/index.js';
import { listen, type Running } from '../helpers/server.js';

const WRITE = 'prop-write-token';
const READ = 'prop-read-token';

const field = fc.constantFrom('code', 'extended', 'description', 'pool', 'mta', 'domain', 'ip', 'recipient', 'tag', 'cluster', 'times',
  'probability', 'expires', 'ttl', 'priority', 'phase', 'delay', 'domian', '__proto__', 'constructor', 'id', '');
const value = fc.oneof(
  fc.constantFrom(421, '553', 250, 354, 0, -1, 1.5, true, 'true', '1', null, 'gmail.com', '*.example.com', '10.0.0.0/8', '::ffff:1.2.3.4',
    'a@b.com', '5.7.1', 'rcpt', 'data', 'x\r\ny', '2030-01-01T00:00:00Z', 'pool-1'),
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 }),
);
const form = (o: Record<string, unknown>) => new URLSearchParams(Object.entries(o).map(([k, v]): [string, string] => [k, String(v)])).toString();
const objectBody = fc.dictionary(field, value, { maxKeys: 6 });
const body = fc.oneof(
  objectBody.map((o) => ({ type: 'application/json', text: JSON.stringify(o) })),
  objectBody.map((o) => ({ type: 'application/x-www-form-urlencoded', text: form(o) })),
  fc.record({ type: fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', 'application/json; charset=utf-16', ''), text: fc.string({ maxLength: 60 }) }),
  fc.constant(undefined),
);
const requestArb = fc.record({
  method: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS'),
  path: fc.oneof(fc.constantFrom('/v1/errors', '/v1/errors/', '/v1/errors/00000000000000000000', '/v1/errors/x', '/v1/errors/%zz', '/other', '/v1/errors/a/b'),
    fc.string({ maxLength: 10 }).map((s) => `/v1/errors/${encodeURIComponent(s)}`)),
  query: fc.oneof(fc.constant(''), objectBody.map((o) => `?${form(o)}`), fc.constant('?domain=a&domain=b')),
  token: fc.constantFrom(WRITE, READ, 'nope', undefined),
  requestId: fc.option(fc.string({ maxLength: 140 }).filter((s) => /^[\x21-\x7e]*$/.test(s)), { nil: undefined }),
  body,
});

describe('REST API under random requests', () => {
  let ic: Interceptor;
  let srv: Running;
  before(async () => {
    ic = new Interceptor();
    await ic.add({ domain: 'gmail.com', code: 421 });
    srv = await listen(createErrorsHandler(ic, { tokens: [WRITE, { token: READ, scope: 'read' }], maxBodyBytes: 512 }));
  });
  after(() => srv.close());

  it('never answers 5xx, always with the error shape, changing rules only on 2xx', async () => {
    await fc.assert(
      fc.asyncProperty(requestArb, async (r) => {
        const before = JSON.stringify(ic.list());
        const headers: Record<string, string> = {};
        if (r.token !== undefined) headers.authorization = `Bearer ${r.token}`;
        if (r.requestId !== undefined) headers['x-request-id'] = r.requestId;
        if (r.body?.type) headers['content-type'] = r.body.type;
        const hasBody = r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD';
        const response = await fetch(`${srv.url}${r.path}${r.query}`, { method: r.method, headers, body: hasBody ? r.body!.text : null });
        const text = await response.text();
        const label = `${r.method} ${r.path}${r.query} -> ${response.status} ${text.slice(0, 200)}`;
        assert.ok(response.status < 500, label);
        const requestId = response.headers.get('x-request-id');
        assert.ok(requestId && /^[A-Za-z0-9._-]{1,128}$/.test(requestId), label);
        if (response.status >= 400 && r.method !== 'HEAD') {
          const error = (JSON.parse(text) as { error: Record<string, unknown> }).error;
          assert.equal(typeof error.type, 'string', label);
          assert.equal(typeof error.code, 'string', label);
          assert.equal(typeof error.message, 'string', label);
          assert.equal(error.request_id, requestId, label);
        }
        if (response.status < 200 || response.status >= 300) assert.equal(JSON.stringify(ic.list()), before, `rules changed on ${label}`);
      }),
      { seed: 424242, numRuns: 400 },
    );
  });
});
