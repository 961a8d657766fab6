/**
 * The precedence order between rules that match the same attempt (see docs/precedence.md), as the
 * index computes it from its shapes. The reference matcher computes the same order on its own, from the
 * documentation, so the property test catches a mistake here.
 */
import type { Rule } from './rule.js';

/**
 * Negative when `a` wins over `b`. Steps: 1. higher priority; 2. more bound selectors; 3. the bound set
 * compared in the order tag > recipient > ip > domain > mta > pool (the mask's numeric order); 4. exact
 * domain/IP beats wildcard/CIDR, longer suffix/prefix first; 5. instance rule beats cluster rule;
 * 6. lower id (only tag rules can still tie here, when an attempt carries several tags).
 */
export function comparePrecedence(a: Rule, b: Rule): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.mask !== b.mask) {
    const bound = b.bound - a.bound;
    return bound !== 0 ? bound : b.mask - a.mask;
  }
  if (a.specificity !== b.specificity) return b.specificity - a.specificity;
  if (a.cluster !== b.cluster) return a.cluster ? 1 : -1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
