// A server process for bench/smtp.ts, printing its port: `fake-mx <rules>` is createFakeMx over an
// interceptor holding <rules> rules (none of which forces the benchmark's mail, so every phase is
// checked and passes); `fake-mx-faults <rules>` the same plus 1,000 fault rules on other domains, a
// mid-DATA cut among them; `smtp-server` is a bare smtp-server that accepts everything and discards it.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { Interceptor } from '../src/index.js';
import { createFakeMx } from '../src/testing/index.js';
import { faultAt, ruleAt } from './workload.js';

const [mode = 'fake-mx', rulesArg = '0'] = process.argv.slice(2);
let close: () => Promise<void>;
if (mode === 'fake-mx' || mode === 'fake-mx-faults') {
  const ic = new Interceptor();
  for (let i = 0; i < Number(rulesArg); i++) await ic.add(ruleAt(i));
  if (mode === 'fake-mx-faults') for (let k = 0; k < 1000; k++) await ic.add(faultAt(k));
  const mx = await createFakeMx({ interceptor: ic });
  setInterval(() => mx.clear(), 1000).unref(); // the benchmark measures the wire, not a growing array
  process.stdout.write(`${mx.port}\n`);
  close = () => mx.close();
} else {
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false, disableReverseLookup: true,
    onData(stream, _session, callback) { stream.resume(); stream.on('end', () => callback()); },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  process.stdout.write(`${((server as unknown as { server: { address(): AddressInfo } }).server.address()).port}\n`);
  close = () => new Promise((resolve) => server.close(() => resolve()));
}
process.on('SIGTERM', () => { void close().then(() => process.exit(0)); });
