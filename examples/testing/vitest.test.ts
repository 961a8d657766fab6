// The same test with Vitest. Run: npx vitest run examples/testing/vitest.test.ts
import nodemailer from 'nodemailer';
import { Interceptor } from 'smtp-intercept';
import { createFakeMx, type FakeMx, record } from 'smtp-intercept/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';

const ic = new Interceptor();
let mx: FakeMx;
beforeAll(async () => { mx = await createFakeMx({ interceptor: ic }); });
afterAll(() => mx.close());

it('rejects one recipient and delivers to the other', async () => {
  const rec = record(ic);
  await ic.add({ recipient: 'gone@example.org', code: 550, extended: '5.1.1', description: 'no such user' });
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: mx.port, secure: false, ignoreTLS: true });
  const info = await transport.sendMail({ from: 'app@example.com', to: ['gone@example.org', 'bob@example.org'], text: 'Hi' });
  expect(info.rejected).toEqual(['gone@example.org']);
  expect(info.accepted).toEqual(['bob@example.org']);
  expect(rec.forced.map((a) => a.result?.reply)).toEqual(['550 5.1.1 no such user']);
});
