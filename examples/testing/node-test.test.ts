// A node:test suite for an application that retries deferred mail. Run: node --import tsx --test examples/testing/node-test.test.ts
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import nodemailer from 'nodemailer';
import { Interceptor } from 'smtp-intercept';
import { createFakeMx, type FakeMx, record } from 'smtp-intercept/testing';

// The code under test: sends, and retries a deferred (4xx) attempt up to 3 times.
async function sendWithRetries(port: number, to: string): Promise<number> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  for (let attempt = 1; ; attempt++) {
    try {
      await transport.sendMail({ from: 'app@example.com', to, subject: 'Welcome', text: 'Hi!' });
      return attempt;
    } catch (err) {
      if (attempt >= 3 || (err as { responseCode?: number }).responseCode! >= 500) throw err;
    }
  }
}

const ic = new Interceptor();
let mx: FakeMx;
before(async () => { mx = await createFakeMx({ interceptor: ic }); });
after(() => mx.close());

it('retries twice when gmail.com defers, then delivers', async () => {
  const rec = record(ic);
  await ic.add({ domain: 'gmail.com', code: 421, extended: '4.7.0', description: 'try later', times: 2 });
  assert.equal(await sendWithRetries(mx.port, 'bob@gmail.com'), 3);
  assert.equal(rec.forced.length, 2);
  assert.equal(mx.messages.length, 1);
  rec.assertAllConsumed();
});
