// Cursor pagination of GET /v1/errors over a real loopback server: the body stays MailerQ's array, the
// next cursor travels in headers, and the unpaginated listing is exactly what it was.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createErrorsHandler } from '../../src/http/index.js';
import { Interceptor } from '../../src/index.js';
import { listen, raw, type Running } from '../helpers/server.js';

const TOKEN = 'page-token-0123456789';
const headers = { authorization: `Bearer ${TOKEN}` };

describe('GET /v1/errors pagination', () => {
  let ic: Interceptor;
  let srv: Running;
  let base: string;
  let ids: string[];
  before(async () => {
    ic = new Interceptor();
    srv = await listen(createErrorsHandler(ic, { tokens: [TOKEN] }));
    base = `${srv.url}/v1/errors`;
  });
  after(() => srv.close());
  beforeEach(async () => {
    await ic.clear();
    // 25 rules: 10 tagged "a" (of which 5 cluster rules), 15 tagged "b".
    const added = [];
    for (let i = 0; i < 25; i++) added.push(await ic.add({ domain: `d${i}.example`, tag: i < 10 ? 'a' : 'b', cluster: i < 5, code: 550 }));
    ids = added.map((r) => r.id);
  });

  it('without limit or starting_after answers the whole array in insertion order, with no cursor', async () => {
    const res = await raw(base, { headers });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.map((r: { id: string }) => r.id), ids);
    assert.equal(res.headers.get('link'), null);
    assert.equal(res.headers.get('x-next-cursor'), null);
    const filtered = await raw(`${base}?tag=b`, { headers });
    assert.deepEqual(filtered.json.map((r: { id: string }) => r.id), ids.slice(10), 'a filtered listing keeps insertion order');
  });

  it('pages in id order, with the next cursor in Link and X-Next-Cursor, none on the last page', async () => {
    const sorted = [...ids].sort();
    const first = await raw(`${base}?limit=10`, { headers });
    assert.equal(first.status, 200);
    assert.deepEqual(first.json.map((r: { id: string }) => r.id), sorted.slice(0, 10));
    assert.equal(first.headers.get('x-next-cursor'), sorted[9]);
    assert.equal(first.headers.get('link'), `</v1/errors?limit=10&starting_after=${sorted[9]}>; rel="next"`);
    // The Link target is followed as is.
    const second = await raw(`${srv.url}${/^<([^>]+)>/.exec(first.headers.get('link')!)![1]}`, { headers });
    assert.deepEqual(second.json.map((r: { id: string }) => r.id), sorted.slice(10, 20));
    const last = await raw(`${base}?limit=10&starting_after=${second.headers.get('x-next-cursor')}`, { headers });
    assert.deepEqual(last.json.map((r: { id: string }) => r.id), sorted.slice(20));
    assert.equal(last.headers.get('link'), null);
    assert.equal(last.headers.get('x-next-cursor'), null);
    // A full last page has no cursor either: the server looked one rule further.
    const exact = await raw(`${base}?limit=25`, { headers });
    assert.equal(exact.json.length, 25);
    assert.equal(exact.headers.get('x-next-cursor'), null);
  });

  it('combines filters with pages, keeping the filter in the Link', async () => {
    const tagged = ids.slice(0, 10).sort();
    const first = await raw(`${base}?tag=a&cluster=false&limit=3`, { headers });
    const instance = ids.slice(5, 10).sort();
    assert.deepEqual(first.json.map((r: { id: string }) => r.id), instance.slice(0, 3));
    assert.equal(first.headers.get('link'), `</v1/errors?tag=a&cluster=false&limit=3&starting_after=${instance[2]}>; rel="next"`);
    const rest = await raw(`${base}?tag=a&starting_after=${tagged[4]}`, { headers });
    assert.deepEqual(rest.json.map((r: { id: string }) => r.id), tagged.slice(5), 'starting_after alone pages with the default limit');
    assert.equal(rest.headers.get('x-next-cursor'), null);
    const none = await raw(`${base}?tag=c&limit=5`, { headers });
    assert.deepEqual(none.json, []);
  });

  it('answers HEAD with the same headers and no body', async () => {
    const res = await raw(`${base}?limit=5`, { method: 'HEAD', headers });
    assert.equal(res.status, 200);
    assert.equal(res.text, '');
    assert.equal(res.headers.get('x-next-cursor'), [...ids].sort()[4]);
  });

  it('refuses a bad limit or starting_after with a 400 naming the field', async () => {
    for (const limit of ['0', '1001', 'ten', '-1', '1.5', '', '99999999999']) {
      const res = await raw(`${base}?limit=${limit}`, { headers });
      assert.equal(res.status, 400, limit);
      assert.equal(res.json.error.type, 'validation_error');
      assert.equal(res.json.error.param, 'limit', limit);
    }
    for (const cursor of ['', 'xyz', ids[0]!.toUpperCase(), `${ids[0]}0`, '__proto__']) {
      const res = await raw(`${base}?limit=5&starting_after=${cursor}`, { headers });
      assert.equal(res.status, 400, cursor);
      assert.equal(res.json.error.param, 'starting_after', cursor);
    }
    const twice = await raw(`${base}?limit=5&limit=6`, { headers });
    assert.equal(twice.json.error.code, 'duplicate_field');
    const unknown = await raw(`${base}?limit=5&page=2`, { headers });
    assert.equal(unknown.json.error.param, 'page');
  });

  it('walks every page with curl', async () => {
    const seen: string[] = [];
    let url: string | undefined = `${base}?limit=7`;
    while (url !== undefined) {
      // curl must be installed: a missing binary fails this test.
      const { stdout } = await promisify(execFile)('curl', ['-sS', '-i', '-H', `Authorization: Bearer ${TOKEN}`, url]);
      const [head, body] = stdout.split('\r\n\r\n') as [string, string];
      assert.match(head, /^HTTP\/1\.1 200/);
      seen.push(...(JSON.parse(body) as { id: string }[]).map((r) => r.id));
      const link = /^link: <([^>]+)>; rel="next"$/im.exec(head);
      url = link ? `${srv.url}${link[1]}` : undefined;
    }
    assert.deepEqual(seen, [...ids].sort());
  });
});
