// Runs with `npm run example:diagnostics`. Turns the engine's diagnostics channels into one JSON log
// line per event, and prints the Prometheus metrics of the same traffic.
import { subscribe } from 'node:diagnostics_channel';
import { channels, type CheckMessage, Interceptor, type RuleAddedMessage, type RuleRemovedMessage, type StoreErrorMessage } from 'smtp-intercept';
import { MetricsCollector, prometheusText } from 'smtp-intercept/metrics';

const log = (event: string, fields: Record<string, unknown>) => console.log(JSON.stringify({ time: new Date().toISOString(), event, ...fields }));

subscribe(channels.check, (message) => {
  const { attempt, result } = message as CheckMessage;
  // Passed attempts are the bulk of the traffic: log only the forced ones.
  if (result) log('smtp.forced', { recipient: attempt.recipient, phase: result.phase, reply: result.reply, outcome: result.outcome, rule: result.rule.id });
});
subscribe(channels.ruleAdded, (message) => log('rule.added', { rule: (message as RuleAddedMessage).rule.toJSON() }));
subscribe(channels.ruleRemoved, (message) => {
  const { rule, reason } = message as RuleRemovedMessage;
  log('rule.removed', { id: rule.id, reason });
});
subscribe(channels.storeError, (message) => {
  const { operation, error } = message as StoreErrorMessage;
  log('store.error', { operation, message: (error as Error).message });
});

const ic = new Interceptor();
const metrics = new MetricsCollector(ic);
await ic.add({ domain: 'gmail.com', code: 421, description: 'try again later', times: 1 });
ic.check({ recipient: 'bob@gmail.com' });
ic.check({ recipient: 'bob@gmail.com' });
process.stdout.write(prometheusText(metrics.collect()));
