// Fidelity of multi-line replies: the same mail sent once to a real server that sends the multi-line
// reply on the wire (test/helpers/scripted-smtp.ts, over node:net), and once through the adapter
// forcing a rule with the same lines. nodemailer must report both the same way, field by field.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { interceptTransport, type TransportLike } from '../../src/adapters/nodemailer.js';
import { Interceptor, type RuleInput } from '../../src/index.js';
import { errorFields as fields, infoFields } from '../helpers/nodemailer-fields.js';
import { type Lines, type Script, type ScriptedSmtp, scriptedSmtp } from '../helpers/scripted-smtp.js';

let plain: ScriptedSmtp; // accepts everything: where the adapter sends unforced recipients

const smtp = (server: ScriptedSmtp) => nodemailer.createTransport({ host: server.host, port: server.port, secure: false, ignoreTLS: true });
const mail = (to: string[]) => ({ from: 'app@example.com', to, subject: 'hi', text: 'body' });

async function outcome(transport: ReturnType<typeof nodemailer.createTransport>, to: string[]) {
  return transport.sendMail(mail(to)).then((info: unknown) => ({ info: infoFields(info as never, true) }), (err: unknown) => ({ err: fields(err) }));
}

/** The real server sends `script`; the adapter forces `rule`. Both outcomes, as nodemailer reports them. */
async function both(script: Script, rule: RuleInput, to: string[]) {
  const real = await scriptedSmtp(script);
  try {
    const ic = new Interceptor();
    await ic.add(rule);
    const adapter = nodemailer.createTransport(interceptTransport((smtp(plain) as unknown as { transporter: TransportLike }).transporter, ic) as never);
    return { real: await outcome(smtp(real), to), adapter: await outcome(adapter, to) };
  } finally {
    await real.close();
  }
}

const USER_UNKNOWN: Lines = ['550-5.1.1 The email account that you tried to reach does not exist.', '550-5.1.1 Please double-check the recipient address', '550 5.1.1 and try again.'];
const USER_UNKNOWN_TEXT = ['The email account that you tried to reach does not exist.', 'Please double-check the recipient address', 'and try again.'];

describe('nodemailer adapter fidelity: multi-line replies', () => {
  before(async () => { plain = await scriptedSmtp(); });
  after(() => plain.close());

  it('one recipient rejected with a multi-line 550, the other accepted', async () => {
    const { real, adapter } = await both(
      { rcpt: (a) => (a === 'gone@example.org' ? USER_UNKNOWN : undefined), data: ['250 2.0.0 ok'] },
      { recipient: 'gone@example.org', code: 550, extended: '5.1.1', description: USER_UNKNOWN_TEXT },
      ['gone@example.org', 'bob@example.org'],
    );
    assert.ok('info' in real, JSON.stringify(real));
    assert.equal((real.info.rejectedErrors as { response: string }[])[0]!.response, USER_UNKNOWN.join('\n'));
    assert.deepEqual(adapter, real);
  });

  it('every recipient rejected with a multi-line 452', async () => {
    const lines = ['452-4.2.2 The recipient\'s inbox is out of storage space.', '452 4.2.2 Please try again later.'];
    const { real, adapter } = await both(
      { rcpt: () => lines },
      { domain: 'example.org', code: 452, extended: '4.2.2', description: ['The recipient\'s inbox is out of storage space.', 'Please try again later.'] },
      ['a@example.org', 'b@example.org'],
    );
    assert.ok('err' in real, JSON.stringify(real));
    assert.equal(real.err.response, lines.join('\n'));
    assert.deepEqual(adapter, real);
  });

  it('MAIL FROM refused with a multi-line 451', async () => {
    const { real, adapter } = await both(
      { mail: ['451-4.3.0 Temporary failure', '451 4.3.0 please retry'] },
      { code: 451, extended: '4.3.0', description: ['Temporary failure', 'please retry'], phase: 'mail' },
      ['a@example.org'],
    );
    assert.ok('err' in real && real.err.command === 'MAIL FROM', JSON.stringify(real));
    assert.deepEqual(adapter, real);
  });

  it('the message refused after DATA with a multi-line 554', async () => {
    const { real, adapter } = await both(
      { data: ['554-5.7.1 Message rejected', '554 5.7.1 see policy'] },
      { domain: 'example.org', code: 554, extended: '5.7.1', description: ['Message rejected', 'see policy'], phase: 'data' },
      ['a@example.org'],
    );
    assert.ok('err' in real && real.err.code === 'EMESSAGE', JSON.stringify(real));
    assert.deepEqual(adapter, real);
  });

  it('a multi-line 554 greeting', async () => {
    const { real, adapter } = await both(
      { greeting: ['554-5.7.1 No service', '554 5.7.1 for you'] },
      { code: 554, extended: '5.7.1', description: ['No service', 'for you'], phase: 'connect' },
      ['a@example.org'],
    );
    assert.ok('err' in real && real.err.command === 'CONN', JSON.stringify(real));
    assert.deepEqual(adapter, real);
  });

  it('a multi-line 250 after DATA is the response', async () => {
    const { real, adapter } = await both(
      { data: ['250-2.0.0 Queued', '250 2.0.0 as 12345'] },
      { domain: 'example.org', code: 250, extended: '2.0.0', description: ['Queued', 'as 12345'], phase: 'data' },
      ['a@example.org'],
    );
    assert.ok('info' in real, JSON.stringify(real));
    assert.equal(real.info.response, '250-2.0.0 Queued\n250 2.0.0 as 12345');
    assert.deepEqual(adapter, real);
  });
});
