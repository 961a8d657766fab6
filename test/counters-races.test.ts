// Counters when saves fail, or end with an unknown outcome, while updates and removals of the same rule
// are in flight. Random schedules of checks (of that rule and of another), updates, removals, clears and
// waits run on a store whose counter saves fail, answer "outcome unknown" or answer late, and whose
// writes fail or answer late, all in call order (test/helpers/counter-store.ts). After a graceful stop
// (every save then succeeds) the store holds exactly what the interceptor held: each hit and each use
// of `times` counted once. Fixed seeds in `npm test`; COUNTER_RUNS=<n> COUNTER_SEED=<s> runs it longer.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { Interceptor, MemoryStore, type RuleStore } from '../src/index.js';
import { FileStore } from '../src/stores/file.js';
import { type SaveOutcome, ScriptedStore } from './helpers/counter-store.js';
import { turns } from './helpers/latent-store.js';

const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-counter-races-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** A store kind: a fresh real store, and the same data opened again after a stop. */
interface Kind {
  readonly name: string;
  readonly runs: number;
  open(): { store: RuleStore; reopen: () => RuleStore };
}

const KINDS: readonly Kind[] = [
  { name: 'MemoryStore', runs: 200, open: () => { const store = new MemoryStore(); return { store, reopen: () => store }; } },
  { name: 'FileStore', runs: 40, open: () => { const path = join(dir, `rules-${++files}.json`); return { store: new FileStore(path), reopen: () => new FileStore(path) }; } },
];

const DOMAIN = 'race.example';
const OTHER = 'other.example';
type Step =
  | { kind: 'check'; n: number }
  | { kind: 'other'; n: number }
  | { kind: 'update'; code: number; times: number | undefined }
  | { kind: 'remove' }
  | { kind: 'clear' }
  | { kind: 'turns'; n: number }
  | { kind: 'ms'; n: number };

const times = fc.constantFrom(undefined, undefined, 3, 1000);
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('check' as const), n: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('other' as const), n: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('update' as const), code: fc.constantFrom(421, 450, 550), times }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('turns' as const), n: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('ms' as const), n: fc.integer({ min: 1, max: 3 }) }) },
);
const savePlans = (outcomes: readonly SaveOutcome[]) => fc.array(fc.record({ outcome: fc.constantFrom(...outcomes), turns: fc.integer({ min: 0, max: 6 }) }), { minLength: 1, maxLength: 12 });
const writePlans = fc.array(fc.record({ fail: fc.integer({ min: 0, max: 4 }).map((n) => n === 0), turns: fc.integer({ min: 0, max: 6 }) }), { minLength: 1, maxLength: 12 });

/** What the interceptor holds: per rule, its reply, hits and `times` left. */
const held = (ic: Interceptor) => ic.list().map((r) => ({ id: r.id, code: r.code, hits: r.hits, times: r.times })).sort((a, b) => a.id.localeCompare(b.id));

interface Round {
  readonly first: number | undefined;
  readonly steps: readonly Step[];
  readonly saves: readonly { outcome: SaveOutcome; turns: number }[];
  readonly writes: readonly { fail: boolean; turns: number }[];
}

/**
 * Runs one schedule with saves every millisecond, then stops gracefully with every save succeeding.
 * Returns what the interceptor held, what a restarted one loads, the forced results, and the store.
 */
async function play(kind: Kind, round: Round) {
  const { store: real, reopen } = kind.open();
  const store = new ScriptedStore(real);
  const ic = new Interceptor({ store, counterFlushMs: 1 });
  ic.on('error', () => undefined); // failed saves and writes are reported; the counts are what is tested
  let removed = 0;
  ic.on('rule:removed', () => removed++);
  await ic.ready();
  await ic.add({ domain: DOMAIN, code: 421, times: round.first });
  await ic.add({ domain: OTHER, code: 550 }); // another rule in the same batches
  store.savePlan = (n) => round.saves[n % round.saves.length]!;
  store.writePlan = (n) => round.writes[n % round.writes.length]!;
  let forced = 0;
  const calls: Promise<unknown>[] = [];
  for (const s of round.steps) {
    if (s.kind === 'check') for (let i = 0; i < s.n; i++) forced += ic.check({ domain: DOMAIN }) ? 1 : 0;
    else if (s.kind === 'other') for (let i = 0; i < s.n; i++) ic.check({ domain: OTHER });
    else if (s.kind === 'update') calls.push(ic.add({ domain: DOMAIN, code: s.code, times: s.times }).catch(() => undefined));
    else if (s.kind === 'remove') calls.push(ic.remove({ domain: DOMAIN }).catch(() => undefined));
    else if (s.kind === 'clear') calls.push(ic.clear().catch(() => undefined));
    else if (s.kind === 'turns') await turns(s.n);
    else await new Promise((resolve) => setTimeout(resolve, s.n));
  }
  await Promise.all(calls);
  store.savePlan = () => ({ outcome: 'ok', turns: 0 });
  store.writePlan = () => ({ fail: false, turns: 0 });
  const before = held(ic);
  await ic.close();
  await real.close();
  const next = reopen();
  const again = new Interceptor({ store: next });
  await again.ready();
  const after = held(again);
  await again.close();
  await next.close();
  return { before, after, forced, id: ic.idOf({ domain: DOMAIN }), removed: removed > 0 || round.steps.some((s) => s.kind === 'remove' || s.kind === 'clear'), saves: store.saves };
}

const rounds = (outcomes: readonly SaveOutcome[]) => fc.record({
  first: times,
  steps: fc.array(step, { minLength: 1, maxLength: 14 }),
  saves: savePlans(outcomes),
  writes: writePlans,
});

/** An interceptor on `kind` behind a ScriptedStore, saving only when told (close, or an update). */
async function scripted(kind: Kind) {
  const { store: real, reopen } = kind.open();
  const store = new ScriptedStore(real);
  const ic = new Interceptor({ store, counterFlushMs: 0 });
  ic.on('error', () => undefined);
  await ic.ready();
  /** Stops gracefully and loads the store again: the restarted interceptor's rule, and the old one's. */
  const restart = async (id: string) => {
    const before = ic.get(id);
    await ic.close();
    await real.close();
    const next = reopen();
    const again = new Interceptor({ store: next });
    await again.ready();
    const after = again.get(id);
    await again.close();
    await next.close();
    return [before && [before.code, before.hits, before.times], after && [after.code, after.hits, after.times]];
  };
  return { store, ic, restart };
}

const check = (ic: Interceptor, n: number) => { for (let i = 0; i < n; i++) assert.ok(ic.check({ domain: DOMAIN })); };

for (const kind of KINDS) {
  describe(`${kind.name}: orderings of a save and an update of the same rule`, () => {
    it('the old revision\'s save fails before the update is written: its hits are counted once (the update carries them)', async () => {
      const { store, ic, restart } = await scripted(kind);
      const rule = await ic.add({ domain: DOMAIN, code: 421, times: 10 });
      check(ic, 3);
      store.savePlan = (n) => ({ outcome: n === 0 ? 'fail' : 'ok', turns: 0 });
      store.writePlan = () => ({ fail: false, turns: 5 }); // the failed save is back before the update applies
      await ic.add({ domain: DOMAIN, code: 450, times: 10 });
      check(ic, 1);
      assert.deepEqual(store.saves.map((s) => s.outcome), ['fail']);
      assert.deepEqual(await restart(rule.id), [[450, 4, 9], [450, 4, 9]]);
    });

    it('the update\'s write fails: hits and uses counted while it was in flight stay with the old revision', async () => {
      const { store, ic, restart } = await scripted(kind);
      const rule = await ic.add({ domain: DOMAIN, code: 421, times: 10 });
      check(ic, 2);
      store.writePlan = () => ({ fail: true, turns: 3 });
      const update = ic.add({ domain: DOMAIN, code: 450, times: 10 });
      await turns(1); // issued: its write is in flight
      check(ic, 2);
      await assert.rejects(update, /disk full/);
      store.writePlan = () => ({ fail: false, turns: 0 });
      assert.deepEqual(await restart(rule.id), [[421, 4, 6], [421, 4, 6]]);
    });

    it('two updates in flight with checks before, between and after them: every hit once', async () => {
      const { store, ic, restart } = await scripted(kind);
      const rule = await ic.add({ domain: DOMAIN, code: 421 });
      check(ic, 1);
      store.writePlan = () => ({ fail: false, turns: 4 });
      const first = ic.add({ domain: DOMAIN, code: 450 });
      await turns(1);
      check(ic, 2);
      const second = ic.add({ domain: DOMAIN, code: 550 });
      await turns(1);
      check(ic, 3);
      await Promise.all([first, second]);
      assert.equal(ic.get(rule.id)?.hits, 6);
      assert.deepEqual(await restart(rule.id), [[550, 6, undefined], [550, 6, undefined]]);
    });
  });
}

describe('counters with failed and unknown saves during updates and removals', () => {
  for (const kind of KINDS) {
    it(`${kind.name}: after a graceful stop the store holds exactly the interceptor's hits and times, whatever failed in between`, async () => {
      const numRuns = Number(process.env.COUNTER_RUNS ?? kind.runs);
      const seed = Number(process.env.COUNTER_SEED ?? 14);
      await fc.assert(fc.asyncProperty(rounds(['ok', 'ok', 'fail', 'unknown-applied']), async (round) => {
        const { before, after, forced, removed, id } = await play(kind, round);
        assert.deepEqual(after, before, 'a restart loads what the interceptor held');
        // Without removals (and rules used up), every forced result is one hit of the one rule.
        if (!removed) assert.equal(before.find((r) => r.id === id)?.hits, forced, 'hits are the forced results, each counted once');
      }), { numRuns, seed, includeErrorInReport: true });
    });
  }

  it('MemoryStore: a save whose outcome is unknown and that was not recorded loses at most its own counts, never counts twice', async () => {
    const numRuns = Number(process.env.COUNTER_RUNS ?? 150);
    const seed = Number(process.env.COUNTER_SEED ?? 15);
    await fc.assert(fc.asyncProperty(rounds(['ok', 'fail', 'unknown-applied', 'unknown-lost']), async (round) => {
      const { before, after, saves } = await play(KINDS[0]!, round);
      const lost = saves.filter((s) => s.outcome === 'unknown-lost').flatMap((s) => s.deltas);
      const sum = (id: string, field: 'hits' | 'used') => lost.filter((d) => d.id === id).reduce((total, d) => total + d[field], 0);
      for (const rule of after) {
        const was = before.find((r) => r.id === rule.id);
        if (was === undefined) {
          // Used up here, its last uses lost with a save and its removal failed: back with at most those.
          assert.ok(rule.times !== undefined && rule.times <= sum(rule.id, 'used'), `rule ${rule.id} used up, back with times ${rule.times}`);
          continue;
        }
        assert.ok(rule.hits <= was.hits && rule.hits >= was.hits - sum(rule.id, 'hits'), `hits ${rule.hits}: between ${was.hits - sum(rule.id, 'hits')} and ${was.hits}`);
        if (was.times !== undefined) assert.ok(rule.times! >= was.times && rule.times! <= was.times + sum(rule.id, 'used'), `times ${rule.times}: between ${was.times} and ${was.times + sum(rule.id, 'used')}`);
      }
      for (const rule of before) assert.ok(after.some((r) => r.id === rule.id), `rule ${rule.id} is still stored`);
    }), { numRuns, seed, includeErrorInReport: true });
  });
});
