// Runs with `npm run example:rest`. Serves /v1/errors on a loopback port and drives it with the client.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Interceptor } from 'smtp-intercept';
import { ErrorsClient, ValidationError } from 'smtp-intercept/client';
import { createErrorsHandler } from 'smtp-intercept/http';

const token = 'example-token-change-me';
const ic = new Interceptor();
const handler = createErrorsHandler(ic, { tokens: [{ token, name: 'example' }] });
handler.on('request', (log) => console.log(`  [log] ${log.method} ${log.path} ${log.status} ${log.durationMs.toFixed(1)} ms`));
const server = createServer(handler).listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const client = new ErrorsClient({ baseUrl, token });
console.log('added', await client.add({ domain: 'gmail.com', code: 421, description: 'forced deferring', times: 2 }));
console.log('listed', await client.list({ domain: 'gmail.com' }));
console.log('check', ic.check({ recipient: 'bob@gmail.com' })?.reply);
try {
  await client.add({ pool: 'shared-pool-1', mta: '192.0.2.1', code: 553 });
} catch (err) {
  if (err instanceof ValidationError) console.log('rejected:', err.status, err.code, err.param, err.message);
}
console.log('removed', (await client.remove({ domain: 'gmail.com' })).id);
server.close();
