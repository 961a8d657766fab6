// The handler mounted in real Express and Fastify applications, next to the application's own routes.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { createErrorsHandler } from '../../src/http/index.js';
import { Interceptor } from '../../src/index.js';
import { raw } from '../helpers/server.js';

const TOKEN = 'mount-token-0123456789';
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

async function exercise(url: string, ic: Interceptor): Promise<void> {
  const created = await raw(`${url}/v1/errors`, { method: 'POST', headers, body: '{"domain":"gmail.com","code":421}' });
  assert.equal(created.status, 201);
  assert.equal(ic.check({ recipient: 'a@gmail.com' })?.code, 421);
  const listed = await raw(`${url}/v1/errors?domain=gmail.com`, { headers });
  assert.equal(listed.json.length, 1);
  const form = await raw(`${url}/v1/errors`, { method: 'DELETE', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body: 'domain=gmail.com' });
  assert.equal(form.status, 200);
  assert.equal(ic.size, 0);
  const app = await raw(`${url}/health`, {});
  assert.equal(app.text, 'ok', 'the application keeps its own routes');
}

describe('mounting', () => {
  it('works as Express middleware (next() for other paths)', async () => {
    const ic = new Interceptor();
    const app = express();
    app.use(createErrorsHandler(ic, { tokens: [TOKEN] }));
    app.get('/health', (_req, res) => { res.send('ok'); });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      await exercise(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, ic);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('works in Fastify from an onRequest hook (before Fastify reads the body)', async () => {
    const ic = new Interceptor();
    const handler = createErrorsHandler(ic, { tokens: [TOKEN] });
    const app = Fastify();
    app.addHook('onRequest', (request, reply, done) => {
      if (!request.url.startsWith('/v1/errors')) return done();
      reply.hijack();
      handler(request.raw, reply.raw);
    });
    app.get('/health', async () => 'ok');
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      await exercise(url, ic);
    } finally {
      await app.close();
    }
  });
});
