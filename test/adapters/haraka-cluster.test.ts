/**
 * A Haraka worker whose primary does not answer: it logs an error naming the reason once per outage,
 * lets those deliveries go as without the plugin (a `[routes]` domain still to its route), and says so
 * when the primary answers again. Real node:cluster processes running the built plugin.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { ChildHost } from '../helpers/child-host.js';

interface Report { role?: string; level?: string; msg?: string; decided?: string; code?: number; mx?: { exchange: string; port: number } | null }

describe('Haraka worker without an answering primary', () => {
  let host: ChildHost<Report>;
  before(async () => {
    host = new ChildHost<Report>(fork('test/fixtures/haraka-cluster.mjs', { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }), 'cluster fixture', (m) => m as Report);
    await host.waitFor((r) => r.role === 'worker' && /worker \d+ ready, rules in the primary process/.test(r.msg ?? ''), 30_000);
  });
  after(async () => {
    host.child.send({ cmd: 'exit' });
    await host.stop();
  });

  it('logs the reason once per outage, delivers unchecked meanwhile, and notes the recovery', async () => {
    host.child.send({ cmd: 'stop' });
    // `constructor` and `__proto__`: the routes crossed the IPC channel as a plain object.
    for (const domain of ['routed.test', 'other.test', 'constructor', '__proto__']) host.child.send({ cmd: 'decide', domain });
    const routed = await host.waitFor((r) => r.decided === 'routed.test', 30_000);
    assert.deepEqual([routed.code, routed.mx?.exchange, routed.mx?.port], [906, '127.0.0.1', 2], 'its configured route');
    for (const domain of ['other.test', 'constructor', '__proto__']) {
      const other = await host.waitFor((r) => r.decided === domain, 30_000);
      assert.deepEqual([other.code, other.mx], [900, null], `Haraka routes ${domain}`);
    }
    const errors = host.reports.filter((r) => r.role === 'worker' && r.level === 'error');
    assert.deepEqual(errors.map((r) => r.msg), ['smtp-intercept: deliveries of this worker are not checked: the primary process did not answer within 10000 ms']);

    host.child.send({ cmd: 'start' });
    await host.waitFor((r) => r.role === 'primary' && r.msg === 'smtp-intercept: ready, rules in memory');
    host.child.send({ cmd: 'decide', domain: 'again.test' });
    await host.waitFor((r) => r.decided === 'again.test');
    assert.ok(host.reports.some((r) => r.role === 'worker' && r.msg === 'smtp-intercept: the primary process answers again, deliveries are checked'));
  });
});
