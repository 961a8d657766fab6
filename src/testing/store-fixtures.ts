/**
 * Helpers of the store conformance cases: rule JSON as the engine writes it, a stable order, and
 * waiting for a store's asynchronous reports.
 */
import assert from 'node:assert/strict';
import { Interceptor, type RuleJSON } from '../index.js';

/** The JSON an interceptor would store for this input. */
export async function ruleJSON(input: Parameters<Interceptor['add']>[0]): Promise<RuleJSON> {
  const ic = new Interceptor();
  const rule = (await ic.add(input)).toJSON();
  await ic.close();
  return rule;
}

/** Rules sorted by id, for comparing sets. */
export const byId = (rules: readonly RuleJSON[]): RuleJSON[] => [...rules].sort((a, b) => a.id.localeCompare(b.id));

/** Waits (up to 10 s) until `check` holds; fails naming `what` otherwise. */
export async function settle(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(check(), `timed out waiting for ${what}`);
}
