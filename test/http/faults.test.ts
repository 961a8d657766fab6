// Fault rules over the REST API (JSON and urlencoded) and through the typed client.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ErrorsClient, ValidationError } from '../../src/client/index.js';
import { createErrorsHandler } from '../../src/http/index.js';
import { Interceptor } from '../../src/index.js';
import { listen, raw, type Running } from '../helpers/server.js';

const TOKEN = 'w-token-0123456789';
let ic: Interceptor;
let srv: Running;

describe('REST API: fault rules', () => {
  before(async () => {
    ic = new Interceptor();
    srv = await listen(createErrorsHandler(ic, { tokens: [{ token: TOKEN, name: 'ops' }] }));
  });
  after(() => srv.close());
  beforeEach(() => ic.clear());

  it('urlencoded: every value a string, reported typed', async () => {
    const res = await raw(`${srv.url}/v1/errors`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${TOKEN}` },
      body: 'domain=example.org&fault=reset&phase=data&afterBytes=512&times=1',
    });
    assert.equal(res.status, 201, JSON.stringify(res.json));
    assert.deepEqual([res.json.fault, res.json.afterBytes, res.json.phase, res.json.times, res.json.code], ['reset', 512, 'data', 1, undefined]);
    assert.deepEqual(ic.check({ recipient: 'a@example.org', phase: 'data' })?.fault, { kind: 'reset', afterBytes: 512 });
  });

  it('the client sends and reads fault rules; a reply and a fault together is a 400 naming code', async () => {
    const client = new ErrorsClient({ baseUrl: srv.url, token: TOKEN });
    const rule = await client.add({ ip: '10.1.2.3', fault: 'tls', tls: 'refuse', description: 'come back later' });
    assert.deepEqual([rule.fault, rule.tls, rule.phase, rule.description], ['tls', 'refuse', 'connect', 'come back later']);
    const err = await client.add({ domain: 'example.org', fault: 'hang', code: 421 }).then(() => assert.fail('added'), (e: unknown) => e);
    assert.ok(err instanceof ValidationError);
    assert.equal(err.param, 'code');
    assert.equal(err.code, 'mutually_exclusive');
  });
});
