// Fidelity of forced tls and throttle faults: the same mail sent once to a loopback server that really
// withholds, refuses or aborts STARTTLS (a node:net server independent of the engine, and the fake MX),
// and once through the adapter. nodemailer must report both the same way, field by field, for every
// STARTTLS setting of the client; where nodemailer goes on in clear, both deliver.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { interceptTransport, type TransportLike } from '../../src/adapters/nodemailer.js';
import { Interceptor, type RuleInput } from '../../src/index.js';
import { createFakeMx, type FakeMx, TEST_CERTIFICATE } from '../../src/testing/index.js';
import { errorFields } from '../helpers/nodemailer-fields.js';
import { type Script, scriptedSmtp } from '../helpers/scripted-smtp.js';

const FIELDS = ['message', 'code', 'command', 'response', 'responseCode', 'errno', 'syscall', 'originalCode', 'host'] as const;
const CLIENTS = { requireTLS: { requireTLS: true }, default: {}, opportunisticTLS: { opportunisticTLS: true }, ignoreTLS: { ignoreTLS: true } } as const;
type Client = keyof typeof CLIENTS;
const mail = { from: 'app@example.com', to: ['bob@example.org'], subject: 'hi', text: 'body' };

/** What the server does at STARTTLS for each fault, played by hand: EHLO offer, then the reply. */
const SERVERS: Record<'unavailable' | 'refuse' | 'fail', Script['starttls']> = {
  unavailable: { offer: false, reply: ['502 5.5.1 Command not implemented'] },
  refuse: { offer: true, reply: ['454 4.7.0 TLS not available due to temporary reason'] },
  fail: { offer: true, reply: 'abort' },
};

const smtp = (port: number, client: Client) =>
  nodemailer.createTransport({ host: '127.0.0.1', port, ...CLIENTS[client], tls: { ca: TEST_CERTIFICATE, servername: 'localhost' }, socketTimeout: 2000, greetingTimeout: 2000 });

/** An error's fields, or the recipients an info accepted. */
const outcome = (p: Promise<{ accepted: unknown }>) => p.then((info) => ({ accepted: info.accepted }), (err: unknown) => {
  const e = err as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) if (e[f] !== undefined) out[f] = e[f];
  return out;
});

let forced: Interceptor;
let plainMx: FakeMx;

/** The same mail through the adapter with `rules`, its unforced part going to `plainMx` (no STARTTLS offered). */
async function viaAdapter(rules: RuleInput[], client: Client) {
  await forced.clear();
  for (const rule of rules) await forced.add(rule);
  const inner = (smtp(plainMx.port, client) as unknown as { transporter: TransportLike }).transporter;
  return outcome(nodemailer.createTransport(interceptTransport(inner, forced, { attempt: () => ({ mta: '127.0.0.1' }) }) as never).sendMail(mail));
}

describe('nodemailer adapter: tls fault fidelity', () => {
  before(async () => {
    forced = new Interceptor();
    plainMx = await createFakeMx({ interceptor: new Interceptor() });
  });
  after(() => plainMx.close());

  for (const tls of ['unavailable', 'refuse', 'fail'] as const) {
    for (const client of Object.keys(CLIENTS) as Client[]) {
      it(`${tls}, client ${client}: as a server doing it by hand`, async () => {
        const server = await scriptedSmtp({ starttls: SERVERS[tls] });
        try {
          const real = await outcome(smtp(server.port, client).sendMail(mail));
          const before = plainMx.messages.length;
          const adapter = await viaAdapter([{ mta: '127.0.0.1', fault: 'tls', tls }], client);
          assert.deepEqual(adapter, real);
          // Delivered in clear by the server exactly when the adapter handed the mail on.
          assert.equal(plainMx.messages.length - before, server.messages.length);
        } finally {
          await server.close();
        }
      });
    }
  }

  it('refuse with the rule text; in clear the rest of the rules apply, as at the fake MX', async () => {
    const real = new Interceptor();
    const mx = await createFakeMx({ interceptor: real, tls: true });
    try {
      const cases: [RuleInput[], Client][] = [
        [[{ mta: '127.0.0.1', fault: 'tls', tls: 'refuse', description: 'not today' }], 'default'],
        [[{ mta: '127.0.0.1', fault: 'tls', tls: 'unavailable' }, { recipient: 'bob@example.org', code: 550, extended: '5.1.1', description: 'no such user' }], 'default'],
        [[{ mta: '127.0.0.1', fault: 'tls', tls: 'refuse' }, { recipient: 'bob@example.org', code: 451, phase: 'data' }], 'opportunisticTLS'],
      ];
      for (const [rules, client] of cases) {
        await real.clear();
        for (const rule of rules) await real.add(rule);
        const wire = await outcome(smtp(mx.port, client).sendMail(mail));
        assert.deepEqual(await viaAdapter(rules, client), wire, JSON.stringify(rules));
        assert.ok(!('accepted' in wire), `a forced error: ${JSON.stringify(wire)}`);
      }
    } finally {
      await mx.close();
    }
  });

  it('throttle passes: the mail is delivered as nodemailer delivers it over a slow link', async () => {
    const real = new Interceptor();
    const mx = await createFakeMx({ interceptor: real });
    try {
      const rules: RuleInput[] = [{ mta: '127.0.0.1', fault: 'throttle', bytesPerSecond: 2000, phase: 'connect' }];
      for (const rule of rules) await real.add(rule);
      const before = plainMx.messages.length;
      const wire = await smtp(mx.port, 'ignoreTLS').sendMail(mail);
      const adapter = await viaAdapter(rules, 'ignoreTLS');
      assert.deepEqual(adapter, { accepted: wire.accepted });
      assert.equal(plainMx.messages.length - before, 1);
      // A later rule still forces its reply after the throttle.
      const later = [...rules, { recipient: 'bob@example.org', code: 452, extended: '4.2.2', description: 'mailbox full' }];
      await real.add(later[1]!);
      const failed = await smtp(mx.port, 'ignoreTLS').sendMail(mail).then(() => assert.fail('sent'), errorFields);
      assert.deepEqual(await viaAdapter(later, 'ignoreTLS'), {
        message: failed.message, code: failed.code, command: failed.command, response: failed.response, responseCode: failed.responseCode,
      });
    } finally {
      await mx.close();
    }
  });
});
