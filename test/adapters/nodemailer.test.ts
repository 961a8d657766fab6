// Fidelity: the same mail sent once to a real smtp-server that really gives the reply (the fake MX),
// and once through the adapter wrapping a transport to a server that accepts everything. nodemailer
// must report both the same way, field by field.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { interceptTransport, type TransportLike } from '../../src/adapters/nodemailer.js';
import type { FakeMx } from '../../src/testing/index.js';
import type { Interceptor, RuleInput } from '../../src/index.js';
import { errorFields as fields, infoFields, startFidelityServers } from '../helpers/nodemailer-fields.js';

let real: Interceptor;   // rules answered by a real SMTP server
let forced: Interceptor; // the same rules applied by the adapter
let realMx: FakeMx;
let plainMx: FakeMx;     // accepts everything: where unforced recipients go

const smtp = (mx: FakeMx) => nodemailer.createTransport({ host: mx.host, port: mx.port, secure: false, ignoreTLS: true });
const viaReal = () => smtp(realMx);
const viaAdapter = () => nodemailer.createTransport(interceptTransport((smtp(plainMx) as unknown as { transporter: TransportLike }).transporter, forced) as never);
const mail = (to: string[]) => ({ from: 'app@example.com', to, subject: 'hi', text: 'body' });

async function both(rules: RuleInput[], to: string[]) {
  await real.clear();
  await forced.clear();
  for (const rule of rules) { await real.add(rule); await forced.add(rule); }
  const a = await viaReal().sendMail(mail(to)).then((info) => ({ info: infoFields(info as never) }), (err: unknown) => ({ err: fields(err) }));
  const b = await viaAdapter().sendMail(mail(to)).then((info) => ({ info: infoFields(info as never) }), (err: unknown) => ({ err: fields(err) }));
  return { real: a, adapter: b };
}

describe('nodemailer adapter fidelity', () => {
  before(async () => {
    ({ real, forced, realMx, plainMx } = await startFidelityServers());
  });
  after(async () => { await realMx.close(); await plainMx.close(); });
  beforeEach(() => { plainMx.clear(); });

  it('per-recipient rejections and partial acceptance', async () => {
    const { real: a, adapter: b } = await both([
      { recipient: 'gone@example.org', code: 550, extended: '5.1.1', description: 'no such user' },
      { domain: 'slow.example', code: 451, extended: '4.7.1', description: 'try later' },
    ], ['gone@example.org', 'bob@example.org', 'x@slow.example']);
    assert.ok('info' in a, JSON.stringify(a));
    assert.deepEqual(b, a);
    assert.deepEqual(plainMx.messages.map((m) => m.envelope.rcptTo), [['bob@example.org']], 'only the unforced recipient was sent');
  });

  it('all recipients rejected: the error nodemailer gives', async () => {
    const { real: a, adapter: b } = await both([
      { domain: 'gone.example', code: 550, extended: '5.1.1', description: 'no such user' },
      { domain: 'busy.example', code: 452, extended: '4.2.2', description: 'mailbox full' },
    ], ['a@gone.example', 'b@busy.example']);
    assert.ok('err' in a, JSON.stringify(a));
    assert.deepEqual(b, a);
  });

  it('DATA rejected (EMESSAGE)', async () => {
    const { real: a, adapter: b } = await both([{ domain: 'example.org', code: 554, extended: '5.7.1', description: 'content rejected', phase: 'data' }], ['a@example.org']);
    assert.ok('err' in a);
    assert.deepEqual(b, a);
  });

  it('MAIL FROM rejected', async () => {
    const { real: a, adapter: b } = await both([{ code: 451, extended: '4.3.0', description: 'try again', phase: 'mail' }], ['a@example.org']);
    assert.ok('err' in a);
    assert.deepEqual(b, a);
  });

  it('connection refused at the greeting', async () => {
    const { real: a, adapter: b } = await both([{ code: 554, extended: '5.7.1', description: 'no service', phase: 'connect' }], ['a@example.org']);
    assert.ok('err' in a);
    assert.deepEqual(b, a);
  });

  it('a forced 2xx is accepted without sending; delay is honoured; the rest passes through', async () => {
    await forced.clear();
    await forced.add({ recipient: 'fake@example.org', code: 250, delay: 200 });
    const started = performance.now();
    const info = await viaAdapter().sendMail(mail(['fake@example.org', 'real@example.org']));
    assert.ok(performance.now() - started >= 190);
    assert.deepEqual(info.accepted, ['fake@example.org', 'real@example.org']);
    assert.deepEqual(plainMx.messages.map((m) => m.envelope.rcptTo), [['real@example.org']]);
    plainMx.clear();
    const only = await viaAdapter().sendMail(mail(['fake@example.org']));
    assert.deepEqual(only.accepted, ['fake@example.org']);
    assert.equal(only.response, '250 2.0.0 forced accept');
    assert.equal(plainMx.messages.length, 0);
  });

  it('checks each phase of each recipient once, in session order, wherever a rule forces', async () => {
    const to = ['a@example.org', 'b@example.org', 'c@example.org'];
    const unforced = ['connect', 'mail', ...to.map((r) => `rcpt ${r}`), ...to.map((r) => `data ${r}`)];
    const cases: [RuleInput | undefined, string[]][] = [
      [undefined, unforced],
      [{ recipient: 'b@example.org', code: 550 }, ['connect', 'mail', ...to.map((r) => `rcpt ${r}`), 'data a@example.org', 'data c@example.org']],
      [{ recipient: 'c@example.org', code: 250, phase: 'data' }, unforced],
      [{ recipient: 'b@example.org', code: 250 }, ['connect', 'mail', ...to.map((r) => `rcpt ${r}`), 'data b@example.org', 'data a@example.org', 'data c@example.org']],
      [{ code: 451, phase: 'mail' }, ['connect', 'mail']],
    ];
    for (const [rule, expected] of cases) {
      await forced.clear();
      if (rule) await forced.add({ ...rule, times: 5 });
      const seen: string[] = [];
      const stop = forced.observe((a) => seen.push(a.recipient === undefined ? String(a.phase) : `${a.phase} ${a.recipient}`));
      await viaAdapter().sendMail(mail(to)).catch(() => undefined);
      stop();
      assert.deepEqual(seen, expected, JSON.stringify(rule));
      if (rule) assert.equal(forced.list()[0]?.times, 4, 'the forcing check counted once');
    }
  });

  it('hands an unforced mail to the wrapped transport untouched: its info as it gave it', async () => {
    await forced.clear();
    await real.clear();
    const direct = await viaReal().sendMail(mail(['x@example.org', 'y@example.org']));
    const wrapped = await viaAdapter().sendMail(mail(['x@example.org', 'y@example.org']));
    assert.deepEqual(Object.keys(wrapped).sort(), Object.keys(direct).sort());
    assert.deepEqual([wrapped.accepted, wrapped.rejected, wrapped.envelope, wrapped.response.slice(0, 3)], [direct.accepted, direct.rejected, direct.envelope, '250']);
  });

  it('passes verify and close through to the wrapped transport', async () => {
    const transport = viaAdapter();
    assert.equal(await transport.verify(), true);
    transport.close();
  });
});
