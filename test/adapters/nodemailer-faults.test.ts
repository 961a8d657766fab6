// Fidelity of forced faults: the same mail sent once to a server that really disconnects, resets or
// hangs (the fake MX performing the rule on its socket), and once through the adapter, which never
// reaches a server for it. nodemailer must report both the same way, field by field.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { interceptTransport, type TransportLike } from '../../src/adapters/nodemailer.js';
import type { FakeMx } from '../../src/testing/index.js';
import type { Interceptor, RuleInput } from '../../src/index.js';
import { startFidelityServers } from '../helpers/nodemailer-fields.js';

const FIELDS = ['message', 'code', 'command', 'response', 'responseCode', 'errno', 'syscall', 'originalCode', 'timeoutType', 'address', 'port'] as const;

let real: Interceptor;
let forced: Interceptor;
let realMx: FakeMx;
let plainMx: FakeMx;

const TIMEOUTS = { socketTimeout: 250, greetingTimeout: 200 };
const smtp = (mx: FakeMx) => nodemailer.createTransport({ host: mx.host, port: mx.port, secure: false, ignoreTLS: true, ...TIMEOUTS });
const mail = { from: 'app@example.com', to: ['bob@example.org'], subject: 'hi', text: 'body' };

/** The error's fields; the server's port (which differs between the two servers) as `PORT`. */
function fields(err: unknown, port: number): Record<string, unknown> {
  const e = err as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) if (e[f] !== undefined) out[f] = e[f];
  if (out.port === port) out.port = 'PORT';
  if (typeof out.message === 'string') out.message = out.message.replace(`:${port}`, ':PORT');
  return out;
}

async function both(rule: RuleInput) {
  await real.clear();
  await forced.clear();
  await real.add(rule);
  await forced.add(rule);
  const fail = () => assert.fail('expected an error');
  const started = Date.now();
  const a = await smtp(realMx).sendMail(mail).then(fail, (err: unknown) => fields(err, realMx.port));
  const realMs = Date.now() - started;
  const adapter = nodemailer.createTransport(interceptTransport((smtp(plainMx) as unknown as { transporter: TransportLike }).transporter, forced, { attempt: () => ({ mta: '127.0.0.1' }) }) as never);
  const t = Date.now();
  const b = await adapter.sendMail(mail).then(fail, (err: unknown) => fields(err, plainMx.port));
  return { real: a, adapter: b, realMs, adapterMs: Date.now() - t };
}

describe('nodemailer adapter: fault fidelity', () => {
  before(async () => {
    ({ real, forced, realMx, plainMx } = await startFidelityServers());
  });
  after(async () => { await realMx.close(); await plainMx.close(); });

  for (const fault of ['disconnect', 'reset'] as const) {
    for (const phase of ['connect', 'mail', 'rcpt', 'data'] as const) {
      it(`${fault} at ${phase}`, async () => {
        // Several rounds: a reset races nodemailer's pipelined writes; the report must not vary.
        for (let round = 0; round < 5; round++) {
          const { real: a, adapter: b } = await both({ mta: '127.0.0.1', fault, phase });
          assert.deepEqual(b, a, `round ${round}`);
          assert.ok(a.code === 'ECONNECTION' || a.code === 'ESOCKET', JSON.stringify(a));
        }
        assert.equal(plainMx.messages.length, 0, 'a forced fault never reaches the wrapped transport');
      });
    }
  }

  for (const phase of ['connect', 'mail', 'rcpt', 'data'] as const) {
    it(`hang at ${phase} honours the transport's timeouts`, async () => {
      const { real: a, adapter: b, realMs, adapterMs } = await both({ mta: '127.0.0.1', fault: 'hang', phase });
      assert.deepEqual(b, a);
      assert.equal(a.code, 'ETIMEDOUT');
      const timeout = phase === 'connect' ? TIMEOUTS.greetingTimeout : TIMEOUTS.socketTimeout;
      for (const ms of [realMs, adapterMs]) assert.ok(ms >= timeout - 20 && ms < timeout + 2000, `${ms} ms for a ${timeout} ms timeout`);
    });
  }

  it('hang closed by the server (delay) before the client times out: a close', async () => {
    const { real: a, adapter: b } = await both({ mta: '127.0.0.1', fault: 'hang', phase: 'mail', delay: 50 });
    assert.deepEqual(b, a);
    assert.equal(a.code, 'ECONNECTION');
  });
});
