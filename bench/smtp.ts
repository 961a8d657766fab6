// SMTP throughput, driven by Postfix's smtp-source: the fake MX (library engine) with no rules, with
// 10,000 rules and with those plus 1,000 fault rules the mail never meets, a bare smtp-server, and
// Postfix's smtp-sink, in the same run. `npm run bench:smtp`.
// Servers run in child processes; each scenario keeps its best of ROUNDS interleaved rounds.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { freePort } from '../test/helpers/redis-server.js';
import { postfixTool, runPeer } from '../test/helpers/smtp-peers.js';

const ROUNDS = Number(process.env['ROUNDS'] ?? 3);
const SECONDS = 1.5; // aimed length of one measured run

interface Target { name: string; port: number; child: ChildProcess }

async function listening(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

async function node(name: string, args: string[]): Promise<Target> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/smtp-server.ts', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  return { name, port: Number(chunk.toString().trim()), child };
}

async function sink(): Promise<Target> {
  const tool = postfixTool('smtp-sink');
  const port = await freePort();
  // As root smtp-sink must drop privileges (-u); 256 is its listen backlog.
  const child = spawn(tool.cmd, ['-u', 'nobody', `127.0.0.1:${port}`, '256'], { env: tool.env, stdio: 'ignore' });
  await listening(port);
  return { name: 'smtp-sink', port, child };
}

interface Scenario { name: string; args: (messages: number) => string[]; probe: number }
const scenarios: Scenario[] = [
  { name: 'new connection per message, 1 session', args: (m) => ['-s', '1', '-m', String(m)], probe: 20 },
  { name: 'new connection per message, 20 sessions', args: (m) => ['-s', '20', '-m', String(m)], probe: 100 },
  { name: 'reused connections, 1 session', args: (m) => ['-d', '-s', '1', '-m', String(m)], probe: 100 },
  { name: 'reused connections, 20 sessions', args: (m) => ['-d', '-s', '20', '-m', String(m)], probe: 400 },
];

/** Messages per second of one smtp-source run. */
async function run(target: Target, scenario: Scenario, messages: number): Promise<number> {
  const started = performance.now();
  const { status, stderr } = await runPeer(postfixTool('smtp-source'), [...scenario.args(messages), '-f', 'from@bench.test', '-t', 'to@sink.test', `127.0.0.1:${target.port}`], 300_000);
  const seconds = (performance.now() - started) / 1000;
  if (status !== 0 || /error|fatal|warning/i.test(stderr)) throw new Error(`smtp-source against ${target.name} failed (${status}): ${stderr}`);
  return messages / seconds;
}

const targets = [
  await node('fake MX, no rules', ['fake-mx', '0']), await node('fake MX, 10,000 rules', ['fake-mx', '10000']),
  await node('fake MX, + 1,000 fault rules', ['fake-mx-faults', '10000']), await node('bare smtp-server', ['smtp-server']), await sink(),
];
const best = new Map<string, number>();
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const scenario of scenarios) {
      for (const target of targets) {
        const key = `${scenario.name}|${target.name}`;
        const known = best.get(key);
        const messages = known === undefined ? scenario.probe : Math.max(scenario.probe, Math.round(known * SECONDS));
        best.set(key, Math.max(known ?? 0, await run(target, scenario, messages)));
      }
    }
  }
} finally {
  for (const target of targets) target.child.kill('SIGTERM');
}

const rate = (scenario: Scenario, target: string) => best.get(`${scenario.name}|${target}`)!;
console.log(`Node ${process.version}, ${ROUNDS} rounds, best kept; messages/s (ratio to smtp-sink | to bare smtp-server)`);
for (const scenario of scenarios) {
  console.log(`\n${scenario.name}`);
  for (const target of targets) {
    const r = rate(scenario, target.name);
    const faults = target.name.includes('fault') ? `   ${(r / rate(scenario, 'fake MX, 10,000 rules')).toFixed(2)}x without fault rules` : '';
    console.log(`  ${target.name.padEnd(28)} ${r.toFixed(0).padStart(7)}/s   ${(r / rate(scenario, 'smtp-sink')).toFixed(2)}x sink   ${(r / rate(scenario, 'bare smtp-server')).toFixed(2)}x smtp-server${faults}`);
  }
}
