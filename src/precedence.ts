/**
 * The precedence order between rules that match the same attempt (see docs/precedence.md), as the
 * index computes it from its shapes. The reference matcher computes the same order on its own, from the
 * documentation, so the property test catches a mistake here.
 */
import type { Rule } from './rule.js';
import { BIT } from './shape.js';

/** Selectors from the least to the most specific: step 3 compares bound sets in this order. */
const RANKED = [BIT.pool, BIT.mta, BIT.domain, BIT.mx, BIT.ip, BIT.sender, BIT.recipient, BIT.tag];

/** `RANK[mask]`: the mask's bits re-ordered by {@link RANKED}, so that comparing numbers compares sets. */
const RANK: Uint16Array = new Uint16Array(256);
for (let mask = 0; mask < 256; mask++) {
  let rank = 0;
  RANKED.forEach((bit, i) => { if (mask & bit) rank |= 1 << i; });
  RANK[mask] = rank;
}

/**
 * Negative when `a` wins over `b`. Steps: 1. higher priority; 2. more bound selectors; 3. the bound set
 * compared in the order tag > recipient > sender > ip > mx > domain > mta > pool; 4. exact domain/IP
 * beats wildcard/CIDR, longer suffix/prefix first, then the same for sender (address > domain >
 * wildcard) and mx; 5. instance rule beats cluster rule; 6. lower id (only tag rules can still tie
 * here, when an attempt carries several tags).
 */
export function comparePrecedence(a: Rule, b: Rule): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.mask !== b.mask) {
    const bound = b.bound - a.bound;
    return bound !== 0 ? bound : RANK[b.mask]! - RANK[a.mask]!;
  }
  if (a.specificity !== b.specificity) return b.specificity - a.specificity;
  if (a.envelopeSpecificity !== b.envelopeSpecificity) return b.envelopeSpecificity - a.envelopeSpecificity;
  if (a.cluster !== b.cluster) return a.cluster ? 1 : -1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
