// The examples keep working: each runs as a user would run it (against the built package).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';

const root = resolve(import.meta.dirname, '..');
// Without the parent runner's NODE_TEST_CONTEXT, a nested `node --test` prints its own report.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT'));
const node = (args: string[]) => execFileSync(process.execPath, ['--import', 'tsx', ...args], { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('examples', () => {
  it('quick-start prints forced results', () => {
    const out = node(['examples/quick-start.ts']);
    assert.match(out, /deferred: 421 4\.0\.0 forced deferring/);
    assert.match(out, /failed: 553 5\.0\.0 invalid mailbox/);
    assert.match(out, /deliver normally/);
  });

  it('rest-api drives the REST API with the client', () => {
    const out = node(['examples/rest-api.ts']);
    assert.match(out, /check 421 4\.0\.0 forced deferring/);
    assert.match(out, /rejected: 400 mutually_exclusive mta/);
  });

  it('diagnostics logs forced results and rule changes from the channels, and prints metrics', () => {
    const lines = node(['examples/diagnostics.ts']).trim().split('\n');
    const events = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string; reply?: string; reason?: string });
    // A rule used up by a check is removed within that check, before its result is published.
    assert.deepEqual(events.map((e) => e.event), ['rule.added', 'rule.removed', 'smtp.forced']);
    assert.equal(events[1]!.reason, 'exhausted');
    assert.equal(events[2]!.reply, '421 4.0.0 try again later');
    assert.ok(lines.includes('smtp_intercept_checks_total{outcome="deferred"} 1'), lines.join('\n'));
    assert.ok(lines.includes('smtp_intercept_checks_total{outcome="passed"} 1'), lines.join('\n'));
  });

  it('the node:test example passes', () => {
    const out = node(['--test', 'examples/testing/node-test.test.ts']);
    assert.match(out, /# pass 1/);
  });
});
