/**
 * `smtp-intercept/testing`: helpers for test suites. No test-runner dependency: assertions throw
 * `node:assert`'s `AssertionError`, and helpers that register cases take your runner's `test`/`it`.
 */
export { record, Recorder } from './recorder.js';
export type { RecordedAttempt, WaitOptions } from './recorder.js';
export { testRuleStore } from './rule-store-suite.js';
export type { RuleStoreSuiteOptions } from './rule-store-suite.js';
export { createFakeMx } from './fake-mx.js';
export { TEST_CERTIFICATE, TEST_KEY } from './test-certificate.js';
export type { AcceptedMessage, FakeMx, FakeMxOptions, TagSource } from './fake-mx.js';
export { MESSAGE_STORE_DEFAULTS, MessageStore } from './message-store.js';
export type { MessagePage, MessageStoreOptions, StoredMessage } from './message-store.js';
