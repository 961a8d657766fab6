// Greylisting, rate limits and the sender / mx selectors through the fake MX, driven by real nodemailer
// with a retry loop on the interceptor's injected clock (nothing sleeps).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { Interceptor } from '../../src/index.js';
import { createFakeMx, type FakeMx } from '../../src/testing/index.js';

const S = 1000;
const opened: FakeMx[] = [];
after(() => Promise.all(opened.map((mx) => mx.close())));

async function setup(hostname?: string) {
  let t = Date.parse('2026-01-01T00:00:00Z');
  const ic = new Interceptor({ now: () => t });
  const mx = await createFakeMx({ interceptor: ic, ...(hostname === undefined ? {} : { hostname }) });
  opened.push(mx);
  const transport = nodemailer.createTransport({ host: mx.host, port: mx.port, secure: false, ignoreTLS: true, pool: true, maxMessages: Infinity });
  /** Sends one mail; resolves to `'sent'` or the server's reply. */
  const send = (to: string, extra: Record<string, unknown> = {}) => transport.sendMail({ from: 'app@example.com', to, text: 'x', ...extra })
    .then(() => 'sent', (err: { response?: string }) => err.response ?? String(err));
  return { ic, mx, send, advance: (ms: number) => { t += ms; }, close: () => transport.close() };
}

describe('fake MX: greylisting and rate limits with nodemailer', () => {
  it('greylists the first attempt, defers a retry before 5 minutes, delivers the retry after them', async () => {
    const { ic, mx, send, advance, close } = await setup();
    await ic.add({ greylist: true });
    const outcomes: string[] = [];
    // A sender's retry loop: every 2 minutes until delivered.
    for (let attempt = 0; attempt < 5; attempt++) {
      const outcome = await send('bob@example.net');
      outcomes.push(outcome);
      if (outcome === 'sent') break;
      advance(120 * S);
    }
    assert.deepEqual(outcomes, ['451 4.7.1 Greylisted, please try again later', '451 4.7.1 Greylisted, please try again later', '451 4.7.1 Greylisted, please try again later', 'sent']);
    assert.equal(mx.messages.length, 1);
    assert.equal(await send('bob@example.net'), 'sent', 'an accepted triplet passes at once');
    assert.match(await send('ann@example.net'), /^451 4\.7\.1/, 'another recipient is another triplet');
    const [gate] = ic.explain({ mta: '127.0.0.1', sender: 'app@example.com', recipient: 'ann@example.net' }).gates;
    assert.deepEqual(gate?.kind === 'greylist' && [gate.triplet, gate.state], [{ client: '127.0.0.0/24', sender: 'app@example.com', recipient: 'ann@example.net' }, 'waiting']);
    close();
  });

  it('rate limits after 100 messages in a minute with 421 4.7.0, and passes again after the minute', async () => {
    const { ic, mx, send, advance, close } = await setup();
    await ic.add({ rate: { limit: 100, window: 60, per: 'sender' } });
    const first = await Promise.all(Array.from({ length: 101 }, (_, i) => send(`r${i}@example.net`)));
    // Pooled connections interleave, so which message comes 101st is the pool's choice: count them.
    assert.equal(first.filter((o) => o === 'sent').length, 100);
    assert.deepEqual(first.filter((o) => o !== 'sent'), ['421 4.7.0 Too many messages, slow down']);
    assert.equal(await send('other@example.net', { from: 'another@example.com' }), 'sent', 'counted per sender');
    advance(60 * S);
    assert.equal(await send('late@example.net'), 'sent');
    assert.equal(mx.messages.length, 102);
    close();
  });
});

describe('fake MX: sender and mx selectors with nodemailer', () => {
  it('defers every Google-hosted domain when the fake MX plays a Google MX', async () => {
    const { ic, send, close } = await setup('aspmx.l.google.com');
    await ic.add({ mx: '*.google.com', code: 451, extended: '4.7.0', description: 'Google is busy' });
    assert.equal(await send('bob@corp.example'), '451 4.7.0 Google is busy');
    assert.equal(await send('ann@gmail.com'), '451 4.7.0 Google is busy');
    await ic.add({ mx: '*.outlook.com', code: 550 });
    const other = await setup('mx1.example.net');
    await other.ic.add({ mx: '*.google.com', code: 451 });
    assert.equal(await other.send('bob@corp.example'), 'sent', 'another MX host is not selected');
    close();
    other.close();
  });

  it('rejects DSNs (the null sender) and nothing else', async () => {
    const { ic, mx, send, close } = await setup();
    await ic.add({ sender: '<>', code: 550, extended: '5.7.1', description: 'no bounces here' });
    assert.equal(await send('bob@example.net', { envelope: { from: '', to: 'bob@example.net' } }), '550 5.7.1 no bounces here');
    assert.equal(await send('bob@example.net'), 'sent');
    assert.deepEqual(mx.messages.map((m) => m.envelope.mailFrom), ['app@example.com']);
    close();
  });

  it('selects by sender address, domain and wildcard at MAIL and RCPT', async () => {
    const { ic, send, close } = await setup();
    await ic.add({ sender: '*.bulk.example', code: 550, description: 'bulk refused', phase: 'mail' });
    await ic.add({ sender: 'news.example', code: 451, description: 'news later' });
    await ic.add({ sender: 'ceo@news.example', code: 250, description: 'ok boss' });
    assert.equal(await send('x@example.net', { from: 'a@eu.bulk.example' }), '550 5.0.0 bulk refused');
    assert.equal(await send('x@example.net', { from: 'a@bulk.example' }), 'sent', 'never the apex');
    assert.equal(await send('x@example.net', { from: 'desk@news.example' }), '451 4.0.0 news later');
    assert.equal(await send('x@example.net', { from: 'ceo@news.example' }), 'sent');
    close();
  });
});
