// The same idea with Jest (CommonJS, no transform needed). Run: npx jest examples/testing/jest.test.cjs
const nodemailer = require('nodemailer');
const { Interceptor } = require('smtp-intercept');
const { createFakeMx, record } = require('smtp-intercept/testing');

const ic = new Interceptor();
let mx;
beforeAll(async () => { mx = await createFakeMx({ interceptor: ic }); });
afterAll(() => mx.close());

test('a 5xx at DATA fails the message', async () => {
  const rec = record(ic);
  await ic.add({ domain: 'example.org', code: 554, extended: '5.7.1', description: 'content rejected', phase: 'data' });
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: mx.port, secure: false, ignoreTLS: true });
  await expect(transport.sendMail({ from: 'app@example.com', to: 'a@example.org', text: 'Hi' }))
    .rejects.toMatchObject({ code: 'EMESSAGE', responseCode: 554, response: '554 5.7.1 content rejected' });
  expect(rec.forced).toHaveLength(1);
  expect(mx.messages).toHaveLength(0);
});
