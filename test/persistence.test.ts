// The persistence model through the public API: versioned changes in one order, echoes recognised by
// version, budgets by rule revision, isolation of user code, no silent failures. Each case names the
// review finding (issue 18) it pins.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as core from '../src/index.js';
import { Interceptor, MemoryStore, SmtpInterceptError, StoreUnavailableError } from '../src/index.js';
import { type Timing, WrappedStore } from './helpers/wrapped-store.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function instances(timings: Timing[], shared = new MemoryStore()) {
  const stores = timings.map((t) => new WrappedStore(shared, t));
  const ics = stores.map((store) => new Interceptor({ clusterStore: store }));
  const errors: unknown[] = [];
  for (const ic of ics) ic.on('error', (err) => errors.push(err));
  for (const ic of ics) await ic.ready();
  return { ics, stores, shared, errors, close: () => Promise.all(ics.map((ic) => ic.close())) };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (const end = Date.now() + 2000; !check(); await sleep(2)) if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
}

/** Checks `ic` every millisecond for `ms` and returns the distinct answers seen, in order. */
async function watchAnswers(ic: Interceptor, ms: number): Promise<(number | undefined)[]> {
  const seen: (number | undefined)[] = [];
  for (const end = Date.now() + ms; Date.now() < end; await sleep(1)) {
    const code = ic.check({ domain: 'gmail.com' })?.code;
    if (seen.at(-1) !== code || seen.length === 0) seen.push(code);
  }
  return seen;
}

describe('one ordering of changes', () => {
  for (const timing of [{ reportDelayMs: 5 }, { twice: true }, { reportDelayMs: 3, twice: true }] as Timing[]) {
    it(`after add, remove, add resolve, the writer never goes back and the other ends at the last add (reports ${JSON.stringify(timing)})`, async () => {
      const { ics: [a, b], errors, close } = await instances([timing, timing]);
      const heard: string[] = [];
      b!.on('rule:added', (r) => heard.push(`added ${r.code}`)).on('rule:updated', (r) => heard.push(`updated ${r.code}`)).on('rule:removed', (r) => heard.push(`removed ${r.code}`));
      await a!.add({ domain: 'gmail.com', code: 421, cluster: true });
      await a!.remove({ domain: 'gmail.com', cluster: true });
      await a!.add({ domain: 'gmail.com', code: 550, cluster: true });
      // Every later report to the writer is an echo of its own changes: its rule set must not move.
      const moves: string[] = [];
      a!.on('rule:added', (r) => moves.push(`added ${r.code}`)).on('rule:updated', (r) => moves.push(`updated ${r.code}`)).on('rule:removed', (r) => moves.push(`removed ${r.code}`));
      assert.deepEqual(await watchAnswers(a!, 30), [550]);
      assert.deepEqual(moves, []);
      // b hears the changes 5 ms late (or at once): it ends at the last one, whatever the load on the machine.
      await until(() => b!.check({ domain: 'gmail.com' })?.code === 550, `b at 550 (heard ${heard.join(', ')}; errors ${errors.join(', ')})`);
      await close();
    });
  }

  it('two concurrent updates of a cluster times: 1 rule leave one revision, forced exactly once', async () => {
    const { ics: [a, b], close } = await instances([{ reportDelayMs: 4 }, { reportDelayMs: 4 }]);
    await Promise.all([a!.add({ domain: 'gmail.com', code: 421, cluster: true, times: 1 }), b!.add({ domain: 'gmail.com', code: 450, cluster: true, times: 1 })]);
    const code = (ic: Interceptor) => ic.get(ic.idOf({ domain: 'gmail.com', cluster: true }))?.code;
    await until(() => code(a!) !== undefined && code(a!) === code(b!), 'both on the same revision');
    let forced = 0;
    for (let i = 0; i < 50 && (a!.size > 0 || b!.size > 0); i++) {
      for (const ic of [a!, b!]) if (ic.check({ domain: 'gmail.com' })) forced++;
      await sleep(2);
    }
    assert.equal(forced, 1);
    assert.equal(a!.size + b!.size, 0, 'used up and removed everywhere, never stranded');
    await close();
  });

  it('clear leaves no echo state: an identical add from another instance afterwards is applied', async () => {
    const now = () => Date.parse('2026-01-01T00:00:00Z'); // identical JSON on both instances
    const shared = new MemoryStore();
    const [a, b] = [new Interceptor({ clusterStore: shared, now }), new Interceptor({ clusterStore: shared, now })];
    await a.ready(); await b.ready();
    await a.add({ domain: 'gmail.com', code: 421, cluster: true });
    await a.clear();
    await b.add({ domain: 'gmail.com', code: 421, cluster: true });
    assert.equal(a.check({ domain: 'gmail.com' })?.code, 421);
    await Promise.all([a.close(), b.close()]);
  });
});

describe('budgets by rule revision', () => {
  it('a grant of the old revision answered after an update is never credited to the new one', async () => {
    // b's reservation is granted under revision 1 and answered only after b installed revision 2.
    const { ics: [a, b], stores: [, slow], shared, close } = await instances([{}, { reserveReplyDelayMs: 30 }]);
    await a!.add({ domain: 'gmail.com', code: 421, cluster: true, times: 2 });
    assert.equal(b!.check({ domain: 'gmail.com' }), undefined, 'b has no reservation yet: it asks for one');
    await a!.add({ domain: 'gmail.com', code: 450, cluster: true, times: 2 }); // revision 2, a new budget of 2
    await until(() => slow!.released === 1, "b's old grant given back"); // to revision 1, whose budget is gone
    const [stored] = await shared.load();
    // What is left of revision 2: its times (2) minus a's reservation, not one more.
    assert.equal(await shared.reserve(stored!.id, 10, 0, stored!.revision ?? ''), 1);
    await close();
  });

  it('add resolves when the rule is usable: a check right after add forces it, list shows the reservation', async () => {
    const { ics: [a], close } = await instances([{ reserveReplyDelayMs: 10 }]);
    await a!.add({ domain: 'gmail.com', code: 421, cluster: true, times: 3 });
    assert.equal(a!.list()[0]?.times, 1, 'one application reserved here');
    assert.equal(a!.check({ domain: 'gmail.com' })?.code, 421);
    await close();
  });

  it('explain().winner is never a cluster rule check would skip for lack of a reservation', async () => {
    const { ics: [a, b], close } = await instances([{}, { reserveReplyDelayMs: 20 }]);
    await a!.add({ domain: 'gmail.com', code: 421, cluster: true, times: 5, priority: 1 });
    await b!.add({ domain: 'gmail.com', code: 451 }); // b's instance rule, below the cluster rule
    const explained = b!.explain({ domain: 'gmail.com' });
    assert.equal(explained.candidates[0]?.code, 421, 'the cluster rule comes first in precedence');
    assert.equal(explained.winner?.code, 451, 'but b holds no reservation of it');
    assert.equal(b!.check({ domain: 'gmail.com' })?.code, 451);
    await close();
  });
});

describe('user code never unwinds check', () => {
  it('a throwing rule:removed listener: the used-up times: 1 rule still forces, the error is reported', async () => {
    const ic = new Interceptor();
    const errors: unknown[] = [];
    ic.on('error', (err) => errors.push(err));
    ic.on('rule:removed', () => { throw new Error('listener bug'); });
    await ic.add({ domain: 'gmail.com', code: 421, times: 1 });
    assert.equal(ic.check({ domain: 'gmail.com' })?.code, 421);
    assert.equal(ic.size, 0);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof SmtpInterceptError && errors[0].code === 'listener_failed' && /listener bug/.test(errors[0].message));
  });

  it('throwing match listeners and observers are reported, the result still returned', async () => {
    const ic = new Interceptor();
    const errors: unknown[] = [];
    ic.on('error', (err) => errors.push(err));
    ic.on('match', () => { throw new Error('match bug'); });
    ic.observe(() => { throw new Error('observer bug'); });
    await ic.add({ domain: 'gmail.com', code: 550 });
    assert.equal(ic.check({ domain: 'gmail.com' })?.code, 550);
    assert.deepEqual(errors.map((e) => (e as Error).message), ["a 'match' listener threw: match bug", 'an observer threw: observer bug']);
  });
});

describe('no silent failures', () => {
  it("an 'error' with no listener becomes a process warning", async () => {
    const store = new MemoryStore();
    const ic = new Interceptor({ store });
    await ic.ready();
    await ic.add({ domain: 'gmail.com', code: 421, times: 1 });
    store.delete = async () => { throw new Error('disk gone'); }; // the background removal of the used-up rule fails
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
    assert.equal(ic.check({ domain: 'gmail.com' })?.code, 421);
    const warning = await warned;
    assert.ok(warning instanceof StoreUnavailableError, 'the error itself is the warning');
    assert.match(warning.message, /disk gone/);
  });

  it('check and explain before ready() with a store throw not_ready; without stores they answer at once', async () => {
    const ic = new Interceptor({ store: new MemoryStore() });
    assert.throws(() => ic.check({ domain: 'gmail.com' }), (err: SmtpInterceptError) => err.code === 'not_ready');
    assert.throws(() => ic.explain({ domain: 'gmail.com' }), (err: SmtpInterceptError) => err.code === 'not_ready');
    await ic.ready();
    assert.equal(ic.check({ domain: 'gmail.com' }), undefined);
    assert.equal(new Interceptor().check({ domain: 'gmail.com' }), undefined);
  });
});

describe('smaller findings', () => {
  it('hits counted while an update is being written are kept', async () => {
    const store = new MemoryStore();
    const ic = new Interceptor({ store });
    await ic.add({ domain: 'gmail.com', code: 421 });
    const put = store.put.bind(store);
    store.put = async (rule) => {
      const version = await put(rule);
      for (let i = 0; i < 3; i++) ic.check({ domain: 'gmail.com' }); // while the update is being written
      return version;
    };
    assert.equal((await ic.add({ domain: 'gmail.com', code: 450 })).hits, 3);
  });

  it('remove resolves to the rule even when it was used up while its removal was written', async () => {
    const store = new MemoryStore();
    const ic = new Interceptor({ store });
    await ic.add({ domain: 'gmail.com', code: 421, times: 1 });
    const remove = store.delete.bind(store);
    let forced: number | undefined;
    store.delete = async (ids) => {
      const version = await remove(ids);
      // Uses it up while the removal is being written (the background removal of the used-up rule, which
      // may be sent before the remove resolves, is the second call).
      forced ??= ic.check({ domain: 'gmail.com' })?.code;
      return version;
    };
    assert.equal((await ic.remove({ domain: 'gmail.com' }))?.code, 421);
    assert.equal(forced, 421);
  });

  it('Rule is a type only: new Rule() does not type-check and the entry exports no constructor', async () => {
    // @ts-expect-error Rule is exported as a type only: there is no value to call `new` on
    const constructor: unknown = core.Rule;
    assert.equal(constructor, undefined);
  });
});
