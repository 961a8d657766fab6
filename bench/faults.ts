// What fault rules cost the paths that do not use them, in one process and one run. `npm run bench:faults`.
//
// 1. `check`: an interceptor with 10,000 reply rules against the same plus 1,000 fault rules on
//    selectors the attempts never hit (cached and uncached).
// 2. The fake MX's handler, one message (connect, MAIL, RCPT, DATA, the body, the end): no rules,
//    10,000 reply rules, and the same plus fault rules without and with mid-DATA cuts; and its DATA step
//    with cut rules loaded, which looks for a cut before the message (`explain` per recipient), against
//    its RCPT step, one `check`.
// Every scenario is set up first, then measured in interleaved rounds keeping each one's fastest.
import { type Attempt, Interceptor } from '../src/index.js';
import type { PathCommand, State } from '../src/smtp/protocol.js';
import type { SessionInfo, SmtpHandler } from '../src/smtp/handler.js';
import { fakeMxHandler } from '../src/testing/fake-mx.js';
import { type Scenario, Scenarios } from './scenarios.js';
import { faultAt, hitAt, indices, missAt, ruleAt } from './workload.js';

const ROUNDS = Number(process.env['ROUNDS'] ?? 15);
const RULES = 10_000;
const bench = new Scenarios();
const scenario = bench.add.bind(bench);

/** `rules` reply rules and `faults` fault rules; without `cuts`, none of them a mid-DATA cut (every fifth). */
async function interceptor(rules: number, faults: number, cacheSize?: number, cuts = true): Promise<Interceptor> {
  const ic = new Interceptor(cacheSize === undefined ? {} : { cacheSize });
  for (let i = 0; i < rules; i++) await ic.add(ruleAt(i));
  for (let k = 0; k < faults; k++) if (cuts || k % 5 !== 0) await ic.add(faultAt(k));
  return ic;
}

// 1. check
const list = indices(RULES, 20_000).map((i, n): Attempt => (n % 2 === 0 ? hitAt(i) : missAt(n)));
const hot = list.slice(0, 64);
const checks: [Scenario, Scenario][] = [];
for (const [label, cacheSize, iterations, pick] of [['uncached', 0, 50_000, (i: number) => list[i % list.length]!], ['cached (64 hot attempts)', undefined, 500_000, (i: number) => hot[i & 63]!]] as const) {
  const plain = await interceptor(RULES, 0, cacheSize);
  const faulty = await interceptor(RULES, 1_000, cacheSize);
  checks.push([
    scenario(`check ${label}, ${RULES} reply rules`, iterations, (i) => plain.check(pick(i))),
    scenario(`check ${label}, + 1000 fault rules`, iterations, (i) => faulty.check(pick(i))),
  ]);
}

// 2. the fake MX's handler
function session(): SessionInfo & { mailFrom: PathCommand | undefined; rcptTo: string[]; state: State } {
  return { id: 'b', remoteAddress: '127.0.0.1', remotePort: 40000, localAddress: '127.0.0.1', localPort: 25, state: 'ready', helo: 'client.test', mailFrom: undefined, rcptTo: [], secure: false };
}
const BODY = Buffer.from('From: a@bench.test\r\nTo: b@sink.test\r\nSubject: bench\r\n\r\nhello\r\n');
const FROM: PathCommand = { address: 'from@bench.test', params: new Map() };
const recipients = Array.from({ length: 64 }, (_, i): PathCommand => ({ address: `to${i}@sink.test`, params: new Map() }));

function message(handler: SmtpHandler, s: ReturnType<typeof session>, i: number): unknown {
  const to = recipients[i & 63]!;
  handler.connect?.(s);
  handler.mail?.(s, FROM);
  s.mailFrom = FROM;
  handler.rcpt?.(s, to);
  s.rcptTo = [to.address];
  const cut = handler.data?.(s);
  handler.chunk?.(s, BODY);
  const end = handler.message?.(s, BODY.length);
  return cut ?? end;
}

const handlers = new Map<string, { handler: SmtpHandler; s: ReturnType<typeof session> }>();
const FAULTY = `${RULES} reply rules + 1000 fault rules, 200 of them cuts`;
for (const [label, rules, faults, cuts] of [['no rules', 0, 0, false], [`${RULES} reply rules`, RULES, 0, false], [`${RULES} reply rules + 800 fault rules, no cut`, RULES, 1_000, false], [FAULTY, RULES, 1_000, true]] as const) {
  const ic = await interceptor(rules, faults, undefined, cuts);
  handlers.set(label, { handler: fakeMxHandler(ic, undefined, () => { bench.sink++; }), s: session() });
}
const messages = [...handlers].map(([label, { handler, s }]) => scenario(`fake MX message, ${label}`, 20_000, (i) => message(handler, s, i)));
const faulty = handlers.get(FAULTY)!;
const steady = faulty.s;
steady.mailFrom = FROM;
const rcptStep = scenario('fake MX RCPT step (one check)', 100_000, (i) => faulty.handler.rcpt?.(steady, recipients[i & 63]!));
const dataStep = scenario('fake MX DATA step (cut lookup, 1 recipient)', 100_000, (i) => {
  steady.rcptTo = [recipients[i & 63]!.address];
  const action = faulty.handler.data?.(steady);
  faulty.handler.close?.(steady); // forget the body buffer the step opened
  return action;
});

bench.measure(ROUNDS);

const fmt = (ns: number) => (ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(1)} ns`);
const notes = new Map<Scenario, string>();
for (const [plain, faults] of checks) notes.set(faults, `${(faults.best / plain.best).toFixed(2)}x without fault rules`);
notes.set(messages[1]!, `${(messages[1]!.best / messages[0]!.best).toFixed(2)}x no rules`);
for (const m of messages.slice(2)) notes.set(m, `${(m.best / messages[1]!.best).toFixed(2)}x without fault rules`);
notes.set(dataStep, `${(dataStep.best / rcptStep.best).toFixed(2)}x the RCPT step; ${((dataStep.best / messages[3]!.best) * 100).toFixed(0)}% of such a message`);
console.log(`node ${process.version}, ${process.arch}; ${ROUNDS} interleaved rounds, best kept`);
const width = Math.max(...bench.all.map((s) => s.name.length));
for (const s of bench.all) console.log(`${s.name.padEnd(width)}  ${fmt(s.best).padStart(10)}  ${notes.get(s) ?? ''}`);
if (bench.sink < 0) console.log(bench.sink);
