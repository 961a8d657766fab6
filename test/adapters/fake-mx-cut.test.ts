// A mid-DATA cut is decided at the DATA command, the rest of a message's data-phase rules at its end:
// each rule must still be checked (counted, drawn) once per message, whatever the cut's draw was.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { Interceptor } from '../../src/index.js';
import { createFakeMx, type FakeMx } from '../../src/testing/index.js';
import { rawClient } from '../helpers/raw-smtp.js';

let ic: Interceptor;
let mx: FakeMx;
const mail = { from: 'app@example.com', to: 'bob@example.org', subject: 'hello', text: 'a body longer than the cut' };
type SendError = Error & { code?: string; responseCode?: number };

describe('fake MX mid-DATA cut with probability', () => {
  before(async () => {
    ic = new Interceptor({ seed: 7 });
    mx = await createFakeMx({ interceptor: ic });
  });
  after(() => mx.close());
  beforeEach(async () => {
    await ic.clear();
    mx.clear();
  });

  it('a cut whose message ends in the same read is checked once and keeps nothing', async () => {
    const cut = await ic.add({ domain: 'example.org', fault: 'reset', phase: 'data', afterBytes: 10 });
    for (let round = 1; round <= 5; round++) {
      const c = await rawClient(mx.port);
      await c.reply();
      c.send('EHLO client.test\r\nMAIL FROM:<app@example.com>\r\nRCPT TO:<bob@example.org>\r\n');
      for (let i = 0; i < 3; i++) await c.reply();
      c.send('DATA\r\n');
      assert.match(await c.reply(), /^354 /);
      c.send('Subject: hi\r\n\r\nmore than ten octets\r\n.\r\n'); // one write: cut and end in one chunk
      await c.closed();
      assert.equal(ic.get(cut.id)?.hits, round);
    }
    assert.equal(mx.messages.length, 0);
  });

  it('a cut that is not drawn leaves the next rule counted once, and is not drawn again at the end', async () => {
    const cut = await ic.add({ recipient: 'bob@example.org', fault: 'disconnect', phase: 'data', afterBytes: 10, probability: 0.5 });
    const later = await ic.add({ domain: 'example.org', code: 451, extended: '4.3.0', description: 'try later', phase: 'data' });
    const seen = { cut: 0, later: 0 };
    for (let i = 0; i < 30; i++) {
      const transport = nodemailer.createTransport({ host: mx.host, port: mx.port, secure: false, ignoreTLS: true });
      const err = await transport.sendMail(mail).then(() => assert.fail(`message ${i} accepted`), (e: SendError) => e);
      if (err.code === 'ECONNECTION') seen.cut++;
      else if (err.responseCode === 451) seen.later++;
      else assert.fail(`message ${i}: ${err.message}`);
    }
    assert.ok(seen.cut > 0 && seen.later > 0, `both rules played: ${JSON.stringify(seen)}`);
    assert.deepEqual({ cut: ic.get(cut.id)?.hits, later: ic.get(later.id)?.hits }, seen, 'hits are what the client saw');
    assert.equal(mx.messages.length, 0, 'a cut keeps nothing, and no cut happened after the whole message');
  });

  it('follows rules as they change: a cut added, turned into a reply, removed; stops following on close', async () => {
    const transport = () => nodemailer.createTransport({ host: mx.host, port: mx.port, secure: false, ignoreTLS: true });
    const code = (p: Promise<unknown>) => p.then(() => 'sent', (e: SendError) => e.code ?? 'error');
    const selector = { recipient: 'bob@example.org', phase: 'data' } as const;
    await ic.add({ ...selector, fault: 'disconnect', afterBytes: 10 });
    assert.equal(await code(transport().sendMail(mail)), 'ECONNECTION');
    await ic.add({ ...selector, code: 452 }); // the same selector: an update
    assert.equal(await code(transport().sendMail(mail)), 'EMESSAGE');
    await ic.add({ ...selector, fault: 'reset', afterBytes: 10, times: 1 }); // removed once used
    assert.equal(await code(transport().sendMail(mail)), 'ESOCKET');
    assert.equal(await code(transport().sendMail(mail)), 'sent');
    const other = new Interceptor();
    const listening = () => ['rule:added', 'rule:updated', 'rule:removed'].map((e) => other.listenerCount(e as 'rule:added'));
    const idle = listening();
    const extra = await createFakeMx({ interceptor: other });
    assert.notDeepEqual(listening(), idle);
    await extra.close();
    assert.deepEqual(listening(), idle);
  });
});
