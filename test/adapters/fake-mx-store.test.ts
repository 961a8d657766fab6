// The fake MX keeps accepted mail within its count and byte budgets, driven by real nodemailer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { createFakeMx } from '../../src/testing/fake-mx.js';
import { Interceptor, ValidationError } from '../../src/index.js';

const send = (port: number, count: number, text = 'body') => {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, pool: true, maxConnections: 1 });
  const sends = Array.from({ length: count }, (_, i) => transport.sendMail({ from: 'app@example.com', to: 'bob@example.org', subject: `m${i}`, text }));
  return Promise.all(sends).finally(() => transport.close());
};

describe('fake MX message budgets', () => {
  it('keeps the newest maxMessages messages, with ids and pages', async () => {
    const mx = await createFakeMx({ interceptor: new Interceptor(), maxMessages: 3 });
    try {
      await send(mx.port, 5);
      assert.deepEqual(mx.messages.map((m) => m.headers['subject']?.[0]), ['m2', 'm3', 'm4']);
      assert.equal(mx.store.evicted, 2);
      const page = mx.store.page(undefined, 2);
      assert.deepEqual(page.items.map((s) => s.id), ['3', '4']);
      assert.equal(mx.store.get('5')?.message, mx.messages[2]);
      mx.clear();
      assert.equal(mx.messages.length, 0);
    } finally {
      await mx.close();
    }
  });

  it('keeps at most maxStoredBytes of raw mail', async () => {
    const mx = await createFakeMx({ interceptor: new Interceptor(), size: 4096, maxStoredBytes: 10_000 });
    try {
      await send(mx.port, 6, 'x'.repeat(3000));
      const kept = mx.messages;
      const bytes = kept.reduce((sum, m) => sum + m.raw.length, 0);
      assert.equal(mx.store.bytes, bytes);
      assert.ok(bytes <= 10_000 && bytes + kept[0]!.raw.length > 10_000, `${kept.length} messages, ${bytes} bytes: the budget holds and one more would break it`);
      assert.deepEqual(kept.map((m) => m.headers['subject']?.[0]), ['m3', 'm4', 'm5'].slice(3 - kept.length), 'the newest are kept');
    } finally {
      await mx.close();
    }
  });

  it('refuses a message over size with 552 5.3.4 and keeps nothing of it', async () => {
    const mx = await createFakeMx({ interceptor: new Interceptor(), size: 1000 });
    try {
      // nodemailer declares no SIZE=, so the server only learns the size while receiving.
      await assert.rejects(send(mx.port, 1, 'x'.repeat(5000)), (err: Error & { responseCode?: number; response?: string }) => {
        assert.equal(err.responseCode, 552);
        assert.match(err.response ?? '', /^552 5\.3\.4 /);
        return true;
      });
      assert.equal(mx.messages.length, 0);
      await send(mx.port, 1, 'small');
      assert.equal(mx.messages.length, 1);
    } finally {
      await mx.close();
    }
  });

  it('rejects budgets that could not keep an accepted message, naming the option', async () => {
    const interceptor = new Interceptor();
    await assert.rejects(createFakeMx({ interceptor, size: 2000, maxStoredBytes: 1000 }), (err: unknown) => err instanceof ValidationError && err.param === 'maxStoredBytes');
    await assert.rejects(createFakeMx({ interceptor, maxMessages: 0 }), (err: unknown) => err instanceof ValidationError && err.param === 'maxMessages');
  });
});
