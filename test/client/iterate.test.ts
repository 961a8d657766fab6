// ErrorsClient.iterate against a real handler while other clients add, update and remove rules: every
// rule present for the whole walk is seen exactly once, none twice, none removed before the walk began.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorsClient, ValidationError } from '../../src/client/index.js';
import { createErrorsHandler } from '../../src/http/index.js';
import { Interceptor, type RuleFilter } from '../../src/index.js';
import { listen, type Running } from '../helpers/server.js';

const TOKEN = 'iterate-token-0123456789';
const ROUNDS = 12;

describe('ErrorsClient.iterate', () => {
  let ic: Interceptor;
  let srv: Running;
  let client: ErrorsClient;
  before(async () => {
    ic = new Interceptor();
    srv = await listen(createErrorsHandler(ic, { tokens: [TOKEN] }));
    client = new ErrorsClient({ baseUrl: srv.url, token: TOKEN });
  });
  after(() => srv.close());

  it('walks every page and stops after the last', async () => {
    await ic.clear();
    for (let i = 0; i < 23; i++) await ic.add({ recipient: `u${i}@r.example`, code: 550 });
    const walked = [];
    for await (const rule of client.iterate(undefined, { pageSize: 5 })) walked.push(rule.id);
    assert.deepEqual(walked, ic.list().map((r) => r.id).sort());
    const empty = [];
    for await (const rule of client.iterate({ domain: 'none.example' })) empty.push(rule);
    assert.deepEqual(empty, []);
    const page = await client.listPage({ recipient: 'u1@R.Example' }, { limit: 1 });
    assert.equal(page.rules.length, 1);
    assert.equal(page.next, undefined);
  });

  it('refuses a bad page size with the server\'s validation error', async () => {
    const walk = async () => { for await (const rule of client.iterate(undefined, { pageSize: 0 })) void rule; };
    await assert.rejects(walk, (err: ValidationError) => err instanceof ValidationError && err.param === 'limit');
  });

  it('sees every rule present for the whole walk exactly once while others add, update and remove rules', async () => {
    const churner = new ErrorsClient({ baseUrl: srv.url, token: TOKEN });
    let changesDuringWalks = 0;
    for (let round = 0; round < ROUNDS; round++) {
      await ic.clear();
      // Odd rounds walk a filtered listing: the churn touches rules inside and outside the filter.
      const filter: RuleFilter | undefined = round % 2 === 1 ? { tag: 'walk' } : undefined;
      const tag = (i: number) => (i % 3 === 0 ? 'other' : 'walk');
      const inWalk = (i: number) => filter === undefined || tag(i) === 'walk';
      const stable = new Set<string>();
      const removedBefore = new Set<string>();
      const volatile: string[] = [];
      for (let i = 0; i < 120; i++) {
        const rule = await ic.add({ domain: `s${round}-${i}.example`, tag: tag(i), code: 550 });
        if (inWalk(i)) stable.add(rule.id);
      }
      for (let i = 0; i < 40; i++) volatile.push((await ic.add({ domain: `v${round}-${i}.example`, tag: tag(i), code: 451 })).id);
      for (let i = 0; i < 40; i++) {
        const rule = await ic.add({ domain: `gone${round}-${i}.example`, tag: tag(i), code: 550 });
        await ic.remove(rule.id);
        removedBefore.add(rule.id);
      }
      let walking = true;
      const churn = (async () => {
        // Until the walk ends: add new rules, update stable ones in place, remove the volatile ones.
        for (let n = 0; walking; n++) {
          await churner.add({ domain: `new${round}-${n}.example`, tag: tag(n), code: 421 });
          await churner.add({ domain: `s${round}-${(n * 7) % 120}.example`, tag: tag((n * 7) % 120), code: 450 + (n % 3) });
          const id = volatile.pop();
          if (id !== undefined) await ic.remove(id);
          if (walking) changesDuringWalks += 3;
        }
      })();
      const seen: string[] = [];
      try {
        for await (const rule of client.iterate(filter, { pageSize: 7 })) {
          seen.push(rule.id);
          if (filter !== undefined) assert.equal(rule.tag, 'walk');
        }
      } finally {
        walking = false;
        await churn;
      }
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i - 1]! < seen[i]!, `round ${round}: ids in strictly increasing order, so none twice`);
      const seenSet = new Set(seen);
      for (const id of stable) assert.ok(seenSet.has(id), `round ${round}: stable rule ${id} seen`);
      for (const id of removedBefore) assert.ok(!seenSet.has(id), `round ${round}: rule ${id} removed before the walk not seen`);
    }
    // The walks really ran alongside changes (a few per page at least), not before or after them.
    assert.ok(changesDuringWalks > ROUNDS * 10, `${changesDuringWalks} changes during the walks`);
  });
});
