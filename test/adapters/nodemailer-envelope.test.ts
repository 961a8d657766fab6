// The nodemailer adapter fills `sender` (envelope from, `<>` when empty) and `mx` (the transport's host),
// so sender / mx rules, greylisting and rate limits apply to mail sent through real nodemailer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { interceptTransport, type TransportLike } from '../../src/adapters/nodemailer.js';
import { type Attempt, Interceptor } from '../../src/index.js';
import { createFakeMx, type FakeMx } from '../../src/testing/index.js';

let mx: FakeMx;
before(async () => { mx = await createFakeMx({ interceptor: new Interceptor() }); });
after(() => mx.close());

function mailer(ic: Interceptor, host = 'localhost', options: Parameters<typeof interceptTransport>[2] = {}) {
  const smtp = nodemailer.createTransport({ host, port: mx.port, secure: false, ignoreTLS: true }) as unknown as { transporter: TransportLike };
  const transport = nodemailer.createTransport(interceptTransport(smtp.transporter, ic, options) as never);
  return (extra: Record<string, unknown> = {}) => transport.sendMail({ from: 'app@example.com', to: 'bob@example.net', text: 'x', ...extra })
    .then(() => 'sent', (err: { response?: string }) => err.response ?? String(err));
}

describe('nodemailer adapter: sender and mx', () => {
  it('gives rules the envelope sender, <> for an empty one, and the transport host as mx', async () => {
    let t = 0;
    const ic = new Interceptor({ now: () => t });
    const seen: Attempt[] = [];
    ic.observe((a) => seen.push(a));
    const send = mailer(ic);
    assert.equal(await send(), 'sent');
    assert.deepEqual(seen.filter((a) => a.phase === 'rcpt').map((a) => [a.sender, a.mx]), [['app@example.com', 'localhost']]);
    await ic.add({ sender: '<>', code: 550, description: 'no DSNs' });
    assert.equal(await send({ envelope: { from: '', to: 'bob@example.net' } }), '550 5.0.0 no DSNs');
    await ic.add({ mx: 'localhost', greylist: { delay: 60 } });
    assert.equal(await send(), '451 4.7.1 Greylisted, please try again later');
    t += 60_000;
    assert.equal(await send(), 'sent');
  });

  it('leaves mx out for an IP host, takes the mx option, and lets the attempt mapper win', async () => {
    const ic = new Interceptor();
    const seen: Attempt[] = [];
    ic.observe((a) => seen.push(a));
    await mailer(ic, '127.0.0.1')();
    await mailer(ic, '127.0.0.1', { mx: 'aspmx.l.google.com' })();
    await mailer(ic, 'localhost', { attempt: () => ({ sender: 'override@example.com', mx: 'mx.example.org' }) })();
    assert.deepEqual(seen.filter((a) => a.phase === 'mail').map((a) => [a.sender, a.mx]),
      [['app@example.com', undefined], ['app@example.com', 'aspmx.l.google.com'], ['override@example.com', 'mx.example.org']]);
  });

  it('counts each attempt of a rate limit once, even when a later check forces', async () => {
    const ic = new Interceptor();
    await ic.add({ sender: 'example.com', rate: { limit: 2, window: 3600 } });
    const send = mailer(ic);
    assert.deepEqual([await send(), await send(), await send()], ['sent', 'sent', '421 4.7.0 Too many messages, slow down']);
  });
});
