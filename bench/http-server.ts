// A server process for bench/http.ts: `api <rules>` serves /v1/errors over an interceptor holding
// <rules> rules; `bare` answers every request, after reading it, with 200 and the bytes the API
// answers a POST or a GET of one rule with (a rule's JSON), so the comparison is of the work, not of
// the response size.
// `GET /__cpu` answers the process's CPU time so far (microseconds, user + system): CPU per request
// does not depend on how the shared machine schedules the processes, throughput does.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createErrorsHandler } from '../src/http/index.js';
import { Interceptor } from '../src/index.js';
import { ruleAt } from './workload.js';

const [mode = 'bare', rulesArg = '0'] = process.argv.slice(2);
let listener: Parameters<typeof createServer>[1];
if (mode === 'api') {
  const ic = new Interceptor();
  for (let i = 0; i < Number(rulesArg); i++) await ic.add(ruleAt(i));
  listener = createErrorsHandler(ic, { tokens: ['bench-token'] });
} else {
  const body = JSON.stringify(await new Interceptor().add({ domain: 'd1.bench.example', code: 421 }));
  listener = (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  };
}
const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  if (req.url !== '/__cpu') return listener!(req, res);
  const { user, system } = process.cpuUsage();
  res.end(String(user + system));
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
