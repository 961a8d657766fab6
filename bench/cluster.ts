// Cluster propagation and FileStore throughput. `npm run bench:cluster` (needs redis-server installed).
// Propagation: time from `add` on one instance until each of 4 others has installed the change (its
// `rule:added`/`rule:updated` event fires as the rule enters its index, so `check` sees it from then on).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Interceptor, type Rule } from '../src/index.js';
import { FileStore } from '../src/stores/file.js';
import { RedisStore } from '../src/stores/redis.js';
import { startRedis } from '../test/helpers/redis-server.js';

const CHANGES = 1000;
const server = await startRedis();
const stores = Array.from({ length: 5 }, () => new RedisStore({ redis: server.url, prefix: 'bench' }));
const instances = stores.map((clusterStore) => new Interceptor({ clusterStore }));
await Promise.all(instances.map((ic) => ic.ready()));
const [writer, ...others] = instances as [Interceptor, ...Interceptor[]];

const samples: number[] = [];
for (let i = 0; i < CHANGES; i++) {
  const input = { domain: `d${i % 100}.example`, code: i % 2 === 0 ? 421 : 451, cluster: true };
  const id = writer.idOf(input);
  const start = performance.now();
  const seen = others.map((ic) => new Promise<void>((resolve) => {
    const done = (rule: Rule) => {
      if (rule.id !== id) return;
      samples.push(performance.now() - start);
      ic.off('rule:added', done);
      ic.off('rule:updated', done);
      resolve();
    };
    ic.on('rule:added', done);
    ic.on('rule:updated', done);
  }));
  await writer.add(input);
  await Promise.all(seen);
}
samples.sort((a, b) => a - b);
const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor(samples.length * p))]!;
await Promise.all(instances.map((ic) => ic.close()));
await Promise.all(stores.map((s) => s.close()));
await server.stop();

const dir = mkdtempSync(join(tmpdir(), 'smtp-intercept-bench-'));
const fileIc = new Interceptor({ store: new FileStore(join(dir, 'rules.json')) });
await fileIc.ready();
const adds = 300;
let t = performance.now();
for (let i = 0; i < adds; i++) await fileIc.add({ domain: `f${i}.example`, code: 421 });
const sequential = adds / ((performance.now() - t) / 1000);
t = performance.now();
await Promise.all(Array.from({ length: adds }, (_, i) => fileIc.add({ domain: `g${i}.example`, code: 421 })));
const concurrent = adds / ((performance.now() - t) / 1000);
await fileIc.close();
rmSync(dir, { recursive: true, force: true });

console.log(`node ${process.version}; ${CHANGES} changes on 1 instance, observed by 4 others (${samples.length} samples) through one redis-server on loopback`);
console.log(`propagation  p50 ${pct(0.5).toFixed(2)} ms   p99 ${pct(0.99).toFixed(2)} ms   max ${samples[samples.length - 1]!.toFixed(2)} ms`);
console.log(`FileStore add (each fsynced, appended to the journal): ${sequential.toFixed(0)} adds/s one at a time, ${concurrent.toFixed(0)} adds/s ${adds} at once (300-1000 rules in the file)`);
console.log();
console.log(`${pct(0.99) < 50 ? 'MET   ' : 'MISSED'} propagation p99 < 50 ms (${pct(0.99).toFixed(2)} ms)`);
