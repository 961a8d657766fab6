import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, it } from 'node:test';
import {
  channels, type CheckMessage, Interceptor, type RuleAddedMessage, type RuleRemovedMessage,
  type RuleUpdatedMessage, type StoreErrorMessage, StoreUnavailableError,
} from '../src/index.js';
import { FailingStore } from './helpers/failing-store.js';

const subscriptions: [string, (message: unknown) => void][] = [];
function collect<T>(name: string): T[] {
  const seen: T[] = [];
  const fn = (message: unknown) => { seen.push(message as T); };
  subscribe(name, fn);
  subscriptions.push([name, fn]);
  return seen;
}
afterEach(() => { for (const [name, fn] of subscriptions.splice(0)) unsubscribe(name, fn); });


describe('diagnostics channels', () => {
  it('names every channel smtp-intercept:<noun>:<event>', () => {
    for (const name of Object.values(channels)) assert.match(name, /^smtp-intercept:[a-z]+:[a-z]+$/);
  });

  it('publishes every check with its interceptor, attempt and result (forced or passed)', async () => {
    const checks = collect<CheckMessage>(channels.check);
    const ic = new Interceptor();
    const rule = await ic.add({ domain: 'gmail.com', code: 421 });
    const forced = { recipient: 'bob@gmail.com' };
    const passed = { recipient: 'bob@example.org' };
    ic.check(forced);
    ic.check(passed);
    assert.equal(checks.length, 2);
    assert.equal(checks[0]!.interceptor, ic);
    assert.equal(checks[0]!.attempt, forced);
    assert.equal(checks[0]!.result?.rule.id, rule.id);
    assert.equal(checks[0]!.result?.reply, '421 4.0.0 forced deferring');
    assert.equal(checks[1]!.attempt, passed);
    assert.equal(checks[1]!.result, undefined);
  });

  it('publishes nothing once unsubscribed', async () => {
    const checks: unknown[] = [];
    const fn = (m: unknown) => { checks.push(m); };
    subscribe(channels.check, fn);
    const ic = new Interceptor();
    ic.check({ domain: 'a.example' });
    unsubscribe(channels.check, fn);
    ic.check({ domain: 'a.example' });
    assert.equal(checks.length, 1);
  });

  it('publishes rule added, updated and removed with the reason', async () => {
    const added = collect<RuleAddedMessage>(channels.ruleAdded);
    const updated = collect<RuleUpdatedMessage>(channels.ruleUpdated);
    const removed = collect<RuleRemovedMessage>(channels.ruleRemoved);
    const ic = new Interceptor();
    const first = await ic.add({ domain: 'gmail.com', code: 421 });
    const second = await ic.add({ domain: 'gmail.com', code: 550 });
    await ic.add({ domain: 'once.example', code: 550, times: 1 });
    ic.check({ domain: 'once.example' });
    await ic.add({ domain: 'other.example', code: 450 });
    await ic.clear();
    assert.deepEqual(added.map((m) => m.rule.toJSON().domain), ['gmail.com', 'once.example', 'other.example']);
    assert.equal(updated.length, 1);
    assert.equal(updated[0]!.rule, second);
    assert.equal(updated[0]!.previous, first);
    assert.deepEqual(removed.map((m) => [m.rule.toJSON().domain, m.reason]), [['once.example', 'exhausted'], ['gmail.com', 'cleared'], ['other.example', 'cleared']]);
    assert.ok(removed.every((m) => m.interceptor === ic));
  });

  it('publishes store errors of add and remove (the call still rejects) and of background work', async () => {
    const errors = collect<StoreErrorMessage>(channels.storeError);
    const store = new FailingStore();
    const ic = new Interceptor({ store });
    await ic.ready();
    await ic.add({ domain: 'gmail.com', code: 421 });
    store.fail = true;
    await assert.rejects(ic.add({ domain: 'x.example', code: 421 }), StoreUnavailableError);
    await assert.rejects(ic.remove({ domain: 'gmail.com' }), StoreUnavailableError);
    assert.deepEqual(errors.map((m) => m.operation), ['add', 'remove']);
    assert.ok(errors[0]!.error instanceof StoreUnavailableError);
    assert.match(String((errors[0]!.error as Error).message), /disk full/);
    ic.emit('error', new Error('not through the channel'));
    assert.equal(errors.length, 2, 'only the engine publishes, not any emit of the event');
    await ic.close();
  });

  it('publishes a background store failure (removing a used-up rule) before the error event', async () => {
    const errors = collect<StoreErrorMessage>(channels.storeError);
    const store = new FailingStore();
    const ic = new Interceptor({ store });
    const events: unknown[] = [];
    ic.on('error', (err) => { events.push(err); });
    await ic.add({ domain: 'once.example', code: 550, times: 1 });
    store.fail = true;
    ic.check({ domain: 'once.example' });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(errors.map((m) => m.operation), ['background']);
    assert.equal(errors[0]!.error, events[0]);
    await ic.close();
  });
});
