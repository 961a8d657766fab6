/**
 * `smtp-intercept/testing`: helpers for test suites. No test-runner dependency: pass your runner's
 * `test`/`it` where a helper registers cases.
 */
export { testRuleStore } from './rule-store-suite.js';
export type { RuleStoreSuite } from './rule-store-suite.js';
