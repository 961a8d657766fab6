// End to end over a real loopback HTTP server: every route, both body encodings, every error type.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createErrorsHandler, type RequestLog } from '../../src/http/index.js';
import { Interceptor, type RuleFilter, ValidationError } from '../../src/index.js';
import { listen, raw, type Running } from '../helpers/server.js';

const WRITE = 'w-token-0123456789';
const READ = 'r-token-0123456789';
const auth = (token = WRITE) => ({ authorization: `Bearer ${token}` });
const json = { 'content-type': 'application/json', ...auth() };
const form = { 'content-type': 'application/x-www-form-urlencoded', ...auth() };

let ic: Interceptor;
let srv: Running;
let logs: RequestLog[];
let base: string;

function expectError(res: { status: number; headers: Headers; json: any }, status: number, type: string, code: string): void {
  assert.equal(res.status, status, JSON.stringify(res.json));
  assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
  assert.equal(res.json.error.type, type);
  assert.equal(res.json.error.code, code);
  assert.equal(typeof res.json.error.message, 'string');
  assert.equal(res.json.error.request_id, res.headers.get('x-request-id'));
}

describe('REST API /v1/errors', () => {
  before(async () => {
    ic = new Interceptor();
    const handler = createErrorsHandler(ic, { tokens: [{ token: WRITE, name: 'ops' }, { token: READ, name: 'dashboard', scope: 'read' }], maxBodyBytes: 1024 });
    handler.on('request', (log) => logs.push(log));
    srv = await listen(handler);
    base = `${srv.url}/v1/errors`;
  });
  after(() => srv.close());
  beforeEach(async () => {
    await ic.clear();
    logs = [];
  });

  describe('MailerQ request examples, byte for byte', () => {
    it('creates with the JSON example and updates with the urlencoded one', async () => {
      const created = await raw(base, { method: 'POST', headers: json, body: '{"domain":"hotmail.com","code":421,"tag":"Campaign1"}' });
      assert.equal(created.status, 201);
      assert.equal(created.headers.get('location'), `/v1/errors/${created.json.id}`);
      assert.deepEqual(
        { domain: created.json.domain, tag: created.json.tag, cluster: created.json.cluster, code: created.json.code },
        { domain: 'hotmail.com', tag: 'Campaign1', cluster: false, code: 421 },
      );
      const updated = await raw(base, { method: 'POST', headers: form, body: 'domain=hotmail.com&code=421&tag=Campaign1' });
      assert.equal(updated.status, 200);
      assert.equal(updated.json.id, created.json.id);
      assert.equal(updated.headers.get('location'), null);
      assert.equal(ic.check({ domain: 'hotmail.com', tags: 'Campaign1' })?.code, 421);
    });

    it('answers 201 to each new rule and 200 to each update among concurrent POSTs, and keeps no listener', async () => {
      for (let i = 0; i < 10; i++) await ic.add({ domain: `old${i}.example`, code: 421 });
      const listeners = ic.listenerCount('rule:added');
      const posts = Array.from({ length: 20 }, (_, i) => raw(base, { method: 'POST', headers: json, body: JSON.stringify({ domain: `${i % 2 === 0 ? 'new' : 'old'}${Math.floor(i / 2)}.example`, code: 550 }) }));
      const statuses = (await Promise.all(posts)).map((res) => res.status);
      assert.deepEqual(statuses, Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 201 : 200)));
      assert.equal(ic.listenerCount('rule:added'), listeners);
    });

    it('deletes with the urlencoded DELETE example', async () => {
      const rule = await ic.add({ cluster: true, domain: 'gmail.com', code: 421 });
      const removed = await raw(base, { method: 'DELETE', headers: form, body: 'cluster=true&code=421&domain=gmail.com' });
      assert.equal(removed.status, 200);
      assert.equal(removed.json.id, rule.id);
      assert.equal(ic.size, 0);
      expectError(await raw(base, { method: 'DELETE', headers: form, body: 'cluster=true&code=421&domain=gmail.com' }), 404, 'not_found_error', 'not_found');
    });

    it('takes a multi-line description as a JSON array or a repeated urlencoded field; GET returns it', async () => {
      const created = await raw(base, { method: 'POST', headers: json, body: '{"domain":"a.com","code":550,"extended":"5.1.1","description":["first","second"]}' });
      assert.equal(created.status, 201);
      assert.deepEqual(created.json.description, ['first', 'second']);
      const updated = await raw(base, { method: 'POST', headers: form, body: 'domain=a.com&code=550&extended=5.1.1&description=one+line&description=two&description=three' });
      assert.equal(updated.status, 200);
      assert.deepEqual((await raw(`${base}/${created.json.id}`, { headers: auth() })).json.description, ['one line', 'two', 'three']);
      assert.deepEqual(ic.check({ recipient: 'x@a.com' })?.replyLines, ['550-5.1.1 one line', '550-5.1.1 two', '550 5.1.1 three']);
      const bad = await raw(base, { method: 'POST', headers: form, body: 'domain=a.com&code=550&description=ok&description=caf%C3%A9' });
      expectError(bad, 400, 'validation_error', 'invalid_format');
      assert.equal(bad.json.error.param, 'description');
      assert.match(bad.json.error.message, /description\[1\] must be printable US-ASCII/);
    });

    it('takes sender, mx, greylist and rate as JSON and urlencoded (field[key]=value); GET returns them', async () => {
      const created = await raw(base, { method: 'POST', headers: json, body: '{"mx":"*.google.com","sender":"<>","rate":{"limit":100,"window":60,"per":"mx"}}' });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      assert.deepEqual([created.json.mx, created.json.sender, created.json.rate, created.json.code], ['*.google.com', '<>', { limit: 100, window: 60, per: 'mx' }, 421]);
      const form1 = await raw(base, { method: 'POST', headers: form, body: 'mx=%2A.google.com&sender=%3C%3E&rate%5Blimit%5D=5&rate%5Bwindow%5D=10' });
      assert.equal(form1.status, 200, JSON.stringify(form1.json));
      assert.deepEqual((await raw(`${base}/${created.json.id}`, { headers: auth() })).json.rate, { limit: 5, window: 10, per: 'rule' });
      const grey = await raw(base, { method: 'POST', headers: form, body: 'sender=example.com&greylist=true' });
      assert.equal(grey.status, 201, JSON.stringify(grey.json));
      assert.deepEqual([grey.json.greylist, grey.json.code, grey.json.extended], [{ delay: 300, window: 172800, lifetime: 3024000 }, 451, '4.7.1']);
      const nested = await raw(base, { method: 'POST', headers: form, body: 'sender=example.com&greylist[delay]=60' });
      assert.equal(nested.json.greylist.delay, 60);
      const listed = await raw(`${base}?sender=Example.COM`, { headers: auth() });
      assert.deepEqual(listed.json.map((r: { id: string }) => r.id), [grey.json.id]);
      const mixed = await raw(base, { method: 'POST', headers: form, body: 'greylist=true&greylist[delay]=60' });
      expectError(mixed, 400, 'validation_error', 'duplicate_field');
      const badPer = await raw(base, { method: 'POST', headers: json, body: '{"rate":{"limit":1,"window":1,"per":"tag"}}' });
      expectError(badPer, 400, 'validation_error', 'invalid_format');
      assert.equal(badPer.json.error.param, 'rate.per');
    });

    it('rejects pool together with mta with 400', async () => {
      const res = await raw(base, { method: 'POST', headers: json, body: '{"pool":"p","mta":"1.2.3.4","code":550}' });
      expectError(res, 400, 'validation_error', 'mutually_exclusive');
      assert.equal(res.json.error.param, 'mta');
      assert.deepEqual(res.json.error.details, [{ code: 'mutually_exclusive', message: 'pool and mta may not be used together', param: 'mta' }]);
    });
  });

  describe('GET', () => {
    it('lists rules in MailerQ shape and filters on selector fields and cluster', async () => {
      await ic.add({ mta: '1.2.3.4', ip: '123.2.3.4', code: 500 });
      await ic.add({ mta: '1.2.3.4', domain: 'gmail.com', code: 421, description: 'forced deferring' });
      await ic.add({ domain: 'hotmail.com', cluster: true, code: 521, extended: '5.2.1' });
      await ic.add({ pool: 'shared-pool-1', domain: 'yaho0.com', code: '553', description: 'invalid mailbox' });
      const all = await raw(base, { headers: auth(READ) });
      assert.equal(all.status, 200);
      assert.equal(all.json.length, 4);
      const [first] = all.json;
      assert.deepEqual(Object.keys(first).slice(0, 4), ['mta', 'ip', 'cluster', 'code']);
      assert.equal(all.json[3].code, 553);
      const filters: [string, number][] = [['?mta=1.2.3.4', 2], ['?cluster=true', 1], ['?cluster=0', 3], ['?domain=GMAIL.com', 1], ['?pool=shared-pool-1&domain=yaho0.com', 1], ['?tag=none', 0]];
      for (const [query, count] of filters) assert.equal((await raw(`${base}${query}`, { headers: auth() })).json.length, count, query);
      expectError(await raw(`${base}?domian=x`, { headers: auth() }), 400, 'validation_error', 'unknown_field');
      expectError(await raw(`${base}?domain=a.com&domain=b.com`, { headers: auth() }), 400, 'validation_error', 'duplicate_field');
      expectError(await raw(`${base}?mta=nope`, { headers: auth() }), 400, 'validation_error', 'invalid_format');
    });

    it('gets one rule by id, 404 otherwise', async () => {
      const rule = await ic.add({ domain: 'gmail.com', code: 421 });
      const got = await raw(`${base}/${rule.id}`, { headers: auth() });
      assert.equal(got.status, 200);
      assert.deepEqual(got.json, JSON.parse(JSON.stringify(rule)));
      expectError(await raw(`${base}/00000000000000000000`, { headers: auth() }), 404, 'not_found_error', 'not_found');
      expectError(await raw(`${base}/not-an-id`, { headers: auth() }), 404, 'not_found_error', 'not_found');
      expectError(await raw(`${base}/%E0%A4%A`, { headers: auth() }), 404, 'not_found_error', 'not_found');
      expectError(await raw(`${base}/${rule.id}/extra`, { headers: auth() }), 404, 'not_found_error', 'not_found');
    });

    it('answers HEAD like GET without a body', async () => {
      const res = await raw(base, { method: 'HEAD', headers: auth() });
      assert.equal(res.status, 200);
      assert.equal(res.text, '');
    });
  });

  describe('DELETE', () => {
    it('deletes by id, by JSON body and by query string', async () => {
      const a = await ic.add({ domain: 'a.com', code: 421 });
      await ic.add({ domain: 'b.com', code: 421 });
      await ic.add({ domain: 'c.com', code: 421 });
      assert.equal((await raw(`${base}/${a.id}`, { method: 'DELETE', headers: auth() })).json.domain, 'a.com');
      expectError(await raw(`${base}/${a.id}`, { method: 'DELETE', headers: auth() }), 404, 'not_found_error', 'not_found');
      assert.equal((await raw(base, { method: 'DELETE', headers: json, body: '{"domain":"b.com"}' })).json.domain, 'b.com');
      assert.equal((await raw(`${base}?domain=c.com&code=421`, { method: 'DELETE', headers: auth() })).json.domain, 'c.com');
      assert.equal(ic.size, 0);
    });

    it('refuses a selector given both in the body and the query string', async () => {
      await ic.add({ domain: 'a.com', code: 421 });
      expectError(await raw(`${base}?domain=a.com`, { method: 'DELETE', headers: json, body: '{"domain":"a.com"}' }), 400, 'validation_error', 'invalid_request');
      assert.equal(ic.size, 1);
    });
  });

  describe('request errors', () => {
    it('reports malformed JSON, non-object JSON, duplicate urlencoded keys and every field problem', async () => {
      expectError(await raw(base, { method: 'POST', headers: json, body: '{"code":' }), 400, 'validation_error', 'invalid_json');
      expectError(await raw(base, { method: 'POST', headers: json, body: '' }), 400, 'validation_error', 'invalid_json');
      expectError(await raw(base, { method: 'POST', headers: json, body: '[1,2]' }), 400, 'validation_error', 'invalid_type');
      const dup = await raw(base, { method: 'POST', headers: form, body: 'code=421&domain=a.com&domain=b.com' });
      expectError(dup, 400, 'validation_error', 'duplicate_field');
      assert.equal(dup.json.error.param, 'domain');
      const many = await raw(base, { method: 'POST', headers: json, body: '{"code":354,"mta":"x","domian":"a.com"}' });
      expectError(many, 400, 'validation_error', 'out_of_range');
      assert.deepEqual(many.json.error.details.map((d: { param: string }) => d.param), ['code', 'mta', 'domian']);
      expectError(await raw(base, { method: 'POST', headers: json, body: '{"code":550,"description":"a\\r\\n250 ok"}' }), 400, 'validation_error', 'invalid_format');
      expectError(await raw(base, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: Buffer.from([0x7b, 0xff, 0x7d]) }), 400, 'validation_error', 'invalid_encoding');
      assert.equal(ic.size, 0);
    });

    it('answers 400 to a body that is not an object, for POST and DELETE, and removes nothing', async () => {
      const catchAll = await ic.add({ code: 421 });
      await ic.add({ domain: 'a.com', code: 550 });
      for (const body of ['null', JSON.stringify(catchAll.id), '42', 'true', '[]', '[{"domain":"a.com"}]']) {
        for (const method of ['POST', 'DELETE']) {
          const res = await raw(base, { method, headers: json, body });
          expectError(res, 400, 'validation_error', 'invalid_type');
          assert.match(res.json.error.message, /must be a JSON object/, `${method} ${body}`);
        }
      }
      assert.equal(ic.size, 2);
    });

    it('answers 400 invalid_encoding to broken percent-encoding in a body or a query string', async () => {
      for (const body of ['code=550&domain=a.com&description=%E0%A4%A', 'code=550&domain=a.com&description=%E0%A4', 'code=5%5&domain=a.com', 'co%de=550', 'code=550&description=100%']) {
        for (const method of ['POST', 'DELETE']) {
          expectError(await raw(base, { method, headers: form, body }), 400, 'validation_error', 'invalid_encoding');
        }
      }
      expectError(await raw(`${base}?domain=%ZZ`, { headers: auth() }), 400, 'validation_error', 'invalid_encoding');
      expectError(await raw(`${base}?domain=a.com%FF`, { method: 'DELETE', headers: auth() }), 400, 'validation_error', 'invalid_encoding');
      assert.equal(ic.size, 0);
      const ok = await raw(base, { method: 'POST', headers: form, body: 'code=550&domain=a.com&description=100%25+sure%2C+no+%2B' });
      assert.equal(ok.json.description, '100% sure, no +');
    });

    it('answers 415 for other content types', async () => {
      for (const type of ['text/plain', 'application/xml', 'application/json; charset=latin1', 'multipart/form-data; boundary=x']) {
        expectError(await raw(base, { method: 'POST', headers: { ...auth(), 'content-type': type }, body: 'code=421' }), 415, 'validation_error', 'unsupported_media_type');
      }
    });

    it('answers 405 with Allow', async () => {
      for (const method of ['PUT', 'PATCH', 'OPTIONS']) {
        const res = await raw(base, { method, headers: auth() });
        expectError(res, 405, 'validation_error', 'method_not_allowed');
        assert.equal(res.headers.get('allow'), 'GET, HEAD, POST, DELETE');
      }
      const item = await raw(`${base}/00000000000000000000`, { method: 'POST', headers: json, body: '{}' });
      expectError(item, 405, 'validation_error', 'method_not_allowed');
      assert.equal(item.headers.get('allow'), 'GET, HEAD, DELETE');
    });

    it('refuses bodies over maxBodyBytes with 413, declared or streamed', async () => {
      const big = JSON.stringify({ code: 421, description: 'x'.repeat(2000) });
      expectError(await raw(base, { method: 'POST', headers: json, body: big }), 413, 'payload_too_large_error', 'payload_too_large');
      // Chunked, so the size is only known while reading.
      const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(base, { method: 'POST', headers: { ...json, 'transfer-encoding': 'chunked' } }, (res) => {
          let body = '';
          res.on('data', (c) => { body += c; });
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        for (let i = 0; i < 10; i++) req.write('x'.repeat(500));
        req.end();
      });
      assert.equal(streamed.status, 413);
      assert.equal(JSON.parse(streamed.body).error.code, 'payload_too_large');
      assert.equal(ic.size, 0);
    });

    it('answers 404 outside the base path when used without next()', async () => {
      expectError(await raw(`${srv.url}/v2/errors`, { headers: auth() }), 404, 'not_found_error', 'not_found');
    });
  });

  describe('authentication', () => {
    it('answers 401 with WWW-Authenticate for a missing or unknown token', async () => {
      const missing = await raw(base, {});
      expectError(missing, 401, 'authentication_error', 'missing_token');
      assert.match(missing.headers.get('www-authenticate')!, /^Bearer /);
      const unknown = await raw(base, { headers: auth('wrong') });
      expectError(unknown, 401, 'authentication_error', 'invalid_token');
      assert.match(unknown.headers.get('www-authenticate')!, /error="invalid_token"/);
      expectError(await raw(base, { headers: { authorization: `Basic ${WRITE}` } }), 401, 'authentication_error', 'missing_token');
      expectError(await raw(base, { headers: { authorization: `Bearer ${WRITE}x` } }), 401, 'authentication_error', 'invalid_token');
    });

    it('lets a read token read and answers 403 when it writes', async () => {
      assert.equal((await raw(base, { headers: auth(READ) })).status, 200);
      expectError(await raw(base, { method: 'POST', headers: { ...json, ...auth(READ) }, body: '{"code":421}' }), 403, 'authorization_error', 'insufficient_scope');
      expectError(await raw(base, { method: 'DELETE', headers: auth(READ) }), 403, 'authorization_error', 'insufficient_scope');
      assert.equal(ic.size, 0);
    });
  });

  describe('request ids and logs', () => {
    it('echoes a valid X-Request-Id and replaces an invalid one, on success and error', async () => {
      assert.equal((await raw(base, { headers: { ...auth(), 'x-request-id': 'abc.DEF_123-x' } })).headers.get('x-request-id'), 'abc.DEF_123-x');
      for (const bad of ['has space', 'x'.repeat(129), 'semi;colon', 'ünï']) {
        const res = await raw(base, { headers: { ...auth(), 'x-request-id': encodeURI(bad).replace(/%20/g, ' ') } });
        assert.match(res.headers.get('x-request-id')!, /^[0-9a-f-]{36}$/, bad);
      }
      const error = await raw(base, { headers: { 'x-request-id': 'trace-1' } });
      assert.equal(error.headers.get('x-request-id'), 'trace-1');
      assert.equal(error.json.error.request_id, 'trace-1');
    });

    it('emits a request event with method, path, status, token name, request id and duration', async () => {
      await raw(`${base}?domain=a.com`, { headers: { ...auth(), 'x-request-id': 'log-1' } });
      await raw(base, { method: 'POST', headers: { ...json, ...auth(READ), 'x-request-id': 'log-2' }, body: '{}' });
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(logs.map(({ method, path, status, tokenName, requestId }) => ({ method, path, status, tokenName, requestId })), [
        { method: 'GET', path: '/v1/errors', status: 200, tokenName: 'ops', requestId: 'log-1' },
        { method: 'POST', path: '/v1/errors', status: 403, tokenName: 'dashboard', requestId: 'log-2' },
      ]);
      assert.ok(logs.every((l) => l.durationMs >= 0 && l.durationMs < 5000));
    });
  });
});

describe('createErrorsHandler options', () => {
  it('refuses to be created without tokens unless auth: false is explicit', () => {
    const ic = new Interceptor();
    assert.throws(() => createErrorsHandler(ic, {}), (err: ValidationError) => err.param === 'tokens');
    assert.throws(() => createErrorsHandler(ic, { tokens: [] }), (err: ValidationError) => err.param === 'tokens');
    assert.throws(() => createErrorsHandler(ic, { tokens: ['a'], auth: false }), (err: ValidationError) => err.param === 'tokens');
    assert.throws(() => createErrorsHandler(ic, { tokens: ['has space'] }), (err: ValidationError) => err.param === 'tokens');
    assert.throws(() => createErrorsHandler(ic, { auth: false, basePath: 'v1/errors' }), (err: ValidationError) => err.param === 'basePath');
    assert.throws(() => createErrorsHandler(ic, { auth: false, maxBodyBytes: 0 }), (err: ValidationError) => err.param === 'maxBodyBytes');
    assert.equal(typeof createErrorsHandler(ic, { auth: false }), 'function');
  });

  it('serves without authentication when auth: false, under a custom base path', async () => {
    const ic = new Interceptor();
    const srv = await listen(createErrorsHandler(ic, { auth: false, basePath: '/api/forced' }));
    try {
      const res = await raw(`${srv.url}/api/forced`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"code":421}' });
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('location'), `/api/forced/${res.json.id}`);
    } finally {
      await srv.close();
    }
  });

  it('answers 500 without leaking internals when the engine fails unexpectedly', async () => {
    class Broken extends Interceptor {
      override list(_filter?: RuleFilter): never {
        throw new Error('secret: database password is hunter2');
      }
    }
    const handler = createErrorsHandler(new Broken(), { auth: false });
    const errors: unknown[] = [];
    handler.on('error', (err) => errors.push(err));
    const srv = await listen(handler);
    try {
      const res = await raw(`${srv.url}/v1/errors`, {});
      expectError(res, 500, 'api_error', 'internal_error');
      assert.doesNotMatch(res.text, /hunter2|secret|stack/);
      assert.equal(errors.length, 1);
    } finally {
      await srv.close();
    }
  });

  it('answers 503 when the interceptor is closed', async () => {
    const ic = new Interceptor();
    await ic.close();
    const srv = await listen(createErrorsHandler(ic, { auth: false }));
    try {
      const res = await raw(`${srv.url}/v1/errors`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"code":421}' });
      expectError(res, 503, 'api_error', 'unavailable');
    } finally {
      await srv.close();
    }
  });
});
