import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { Interceptor, StoreUnavailableError } from '../../src/index.js';
import { MetricsCollector, prometheusText } from '../../src/metrics/index.js';
import { registerMetrics } from '../../src/metrics/prom-client.js';
import { FailingStore } from '../helpers/failing-store.js';


/** Checks that exercise every label: passed, 4xx at rcpt, 5xx at mail, 2xx at data. */
async function traffic(ic: Interceptor): Promise<void> {
  await ic.add({ domain: 'defer.example', code: 421 });
  await ic.add({ domain: 'fail.example', code: 550, phase: 'mail' });
  await ic.add({ domain: 'ok.example', code: 250, phase: 'data', cluster: true });
  ic.check({ domain: 'defer.example' });
  ic.check({ domain: 'defer.example' });
  ic.check({ domain: 'fail.example' });
  ic.check({ domain: 'ok.example' });
  ic.check({ domain: 'nothing.example' });
}

const sample = (text: string, line: string) => assert.ok(text.split('\n').includes(line), `missing "${line}" in\n${text}`);

describe('metrics', () => {
  it('counts checks by outcome, forced results by class and phase, rules by scope', async () => {
    const ic = new Interceptor();
    await ic.add({ domain: 'before.example', code: 421 });
    const metrics = new MetricsCollector(ic);
    await traffic(ic);
    await ic.remove({ domain: 'before.example' });
    const text = prometheusText(metrics.collect());
    sample(text, '# TYPE smtp_intercept_checks_total counter');
    sample(text, 'smtp_intercept_checks_total{outcome="deferred"} 2');
    sample(text, 'smtp_intercept_checks_total{outcome="failed"} 1');
    sample(text, 'smtp_intercept_checks_total{outcome="accepted"} 1');
    sample(text, 'smtp_intercept_checks_total{outcome="passed"} 1');
    sample(text, 'smtp_intercept_forced_total{class="4xx",phase="rcpt"} 2');
    sample(text, 'smtp_intercept_forced_total{class="5xx",phase="mail"} 1');
    sample(text, 'smtp_intercept_forced_total{class="2xx",phase="data"} 1');
    sample(text, '# TYPE smtp_intercept_rules gauge');
    sample(text, 'smtp_intercept_rules{scope="cluster"} 1');
    sample(text, 'smtp_intercept_rules{scope="instance"} 2');
    metrics.close();
    ic.check({ domain: 'defer.example' });
    assert.match(prometheusText(metrics.collect()), /outcome="deferred"} 2\n/, 'closed: no longer counting');
  });

  it('counts store errors of this interceptor only, by operation', async () => {
    const store = new FailingStore();
    const ic = new Interceptor({ store });
    const other = new Interceptor({ store });
    const metrics = new MetricsCollector(ic);
    await ic.ready();
    await other.ready();
    store.fail = true;
    await assert.rejects(ic.add({ domain: 'a.example', code: 421 }), StoreUnavailableError);
    await assert.rejects(ic.add({ domain: 'b.example', code: 421 }), StoreUnavailableError);
    await assert.rejects(other.add({ domain: 'c.example', code: 421 }), StoreUnavailableError);
    sample(prometheusText(metrics.collect()), 'smtp_intercept_store_errors_total{operation="add"} 2');
    metrics.close();
    await ic.close();
    await other.close();
  });

  it('labels never carry rule ids, domains or recipients: the series count stays bounded', async () => {
    const ic = new Interceptor();
    const metrics = new MetricsCollector(ic);
    for (let i = 0; i < 500; i++) {
      await ic.add({ recipient: `user${i}@d${i}.example`, code: 400 + (i % 2) * 150 });
      ic.check({ recipient: `user${i}@d${i}.example` });
      ic.check({ recipient: `other${i}@x${i}.example` });
    }
    const series = prometheusText(metrics.collect()).split('\n').filter((l) => l && !l.startsWith('#'));
    assert.ok(series.length <= 8, series.join('\n'));
    assert.ok(!series.some((l) => /example|user/.test(l)));
  });

  it('escapes label values as the text format requires', () => {
    const text = prometheusText([{ name: 'x', help: 'a\\b\nc', type: 'gauge', labelNames: ['l'], samples: [{ labels: { l: 'q"\\\n' }, value: 1 }] }]);
    assert.equal(text, '# HELP x a\\\\b\\nc\n# TYPE x gauge\nx{l="q\\"\\\\\\n"} 1\n');
  });

  it('registers the same metrics in a prom-client registry, read at scrape time', async () => {
    const registry = new Registry();
    const ic = new Interceptor();
    const registered = registerMetrics(ic, { registry });
    await traffic(ic);
    const text = await registry.metrics();
    sample(text, 'smtp_intercept_checks_total{outcome="deferred"} 2');
    sample(text, 'smtp_intercept_forced_total{class="5xx",phase="mail"} 1');
    sample(text, 'smtp_intercept_rules{scope="cluster"} 1');
    ic.check({ domain: 'defer.example' });
    sample(await registry.metrics(), 'smtp_intercept_checks_total{outcome="deferred"} 3');
    assert.throws(() => registerMetrics(new Interceptor(), { registry }), /already been registered/);
    assert.equal(registry.getMetricsAsArray().length, 4, 'a failed registration leaves the first intact');
    registered.unregister();
    assert.equal(registry.getMetricsAsArray().length, 0);
  });
});
