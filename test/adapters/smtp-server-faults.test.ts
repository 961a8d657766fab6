// interceptServerOptions on a real smtp-server: a fault rule it cannot perform is never a silent accept.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { interceptServerOptions } from '../../src/adapters/smtp-server.js';
import { Interceptor } from '../../src/index.js';

describe('interceptServerOptions and fault rules', () => {
  it('answers 421 4.3.0 naming the fault, and warns', async () => {
    const ic = new Interceptor();
    await ic.add({ domain: 'example.org', fault: 'disconnect' });
    const server = new SMTPServer({ authOptional: true, disabledCommands: ['STARTTLS'], ...interceptServerOptions(ic) });
    server.listen(0, '127.0.0.1');
    await once(server.server, 'listening');
    const warned = once(process, 'warning');
    try {
      const port = (server.server.address() as { port: number }).port;
      const err = await nodemailer.createTransport({ host: '127.0.0.1', port, ignoreTLS: true })
        .sendMail({ from: 'a@example.com', to: 'bob@example.org', text: 'x' })
        .then(() => assert.fail('sent'), (e: Error & { responseCode?: number; response?: string }) => e);
      assert.equal(err.responseCode, 421);
      assert.match(err.response ?? '', /^421 4\.3\.0 forced fault disconnect needs the socket/);
      const [warning] = (await warned) as [Error];
      assert.match(warning.message, /forced fault disconnect/);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
