/**
 * A rule's identity: the canonical text of its selector and the deterministic id derived from it, the
 * same on every instance of a cluster.
 */
import * as crypto from 'node:crypto';
import type { RuleSpec } from './rule-input.js';

/** The canonical selector text a rule's id is derived from. */
export function selectorText(spec: RuleSpec): string {
  const fields: (string | boolean | null)[] = [spec.cluster, spec.pool ?? null, spec.mta ?? null, spec.domain?.text ?? null,
    spec.ip?.text ?? null, spec.recipient?.text ?? null, spec.tag ?? null];
  // Appended only when bound, so the ids of rules without them stay those earlier releases stored.
  if (spec.sender !== undefined || spec.mx !== undefined) fields.push(spec.sender?.text ?? null, spec.mx?.text ?? null);
  return JSON.stringify(fields);
}

// One-shot hashing (Node >= 20.12) skips the Hash object and its stream machinery: measured about 5x
// faster per id, which is most of the cost of checking a million stored ids at start-up.
const oneShot = typeof crypto.hash === 'function' ? crypto.hash : undefined;

/** Deterministic id of a selector: every instance of a cluster derives the same id for the same rule. */
export function ruleId(spec: RuleSpec): string {
  // Hex of the first 10 bytes, encoded directly: slicing the full hex digest would keep all 64
  // characters alive behind every id (measured: ~80 bytes per rule).
  const text = selectorText(spec);
  const digest = oneShot ? oneShot('sha256', text, 'buffer') : crypto.createHash('sha256').update(text).digest();
  return digest.toString('hex', 0, 10);
}

/**
 * Whether `id` is the id of `spec`'s selector ({@link ruleId}), without building the id: a stored rule
 * keeps the id string it came with, so the check may compare against the full hex digest.
 */
export function isRuleId(spec: RuleSpec, id: string): boolean {
  if (id.length !== 20) return false;
  return oneShot ? oneShot('sha256', selectorText(spec), 'hex').startsWith(id) : ruleId(spec) === id;
}
