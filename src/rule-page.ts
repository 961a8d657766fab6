/**
 * Cursor pagination of rule listings: pages in rule id order, the cursor being the last id seen.
 */
import { ValidationError } from './errors.js';
import type { Rule } from './rule.js';

/** The largest page {@link Interceptor.listPage} (and `GET /v1/errors?limit=`) returns. */
export const MAX_PAGE_SIZE = 1000;

/** The page size when none is given. */
export const DEFAULT_PAGE_SIZE = 100;

/** A rule id: 20 lowercase hex digits. */
export const RULE_ID = /^[0-9a-f]{20}$/;

/** Which page of a listing {@link Interceptor.listPage} returns. */
export interface PageOptions {
  /** Rules per page, an integer from 1 to {@link MAX_PAGE_SIZE}. @default 100 */
  limit?: number;
  /**
   * Start after the rule with this id (the `next` of the previous page); the first page when absent.
   * The rule need not exist any more: the page starts at the first id that sorts after it.
   */
  startingAfter?: string;
}

/** One page of a listing. */
export interface RulePage {
  /** Up to `limit` active rules in id order. */
  rules: Rule[];
  /** The `startingAfter` of the next page; `undefined` on the last page. */
  next: string | undefined;
}

/** @internal Validated page options; throws a {@link ValidationError} naming each bad field. */
export function parsePage(page: PageOptions): { limit: number; startingAfter: string | undefined } {
  if (typeof page !== 'object' || page === null) {
    throw new ValidationError([{ code: 'invalid_type', message: 'page options must be an object' }]);
  }
  const { limit = DEFAULT_PAGE_SIZE, startingAfter } = page;
  const problems = [];
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    problems.push({ code: 'out_of_range', message: `limit must be an integer from 1 to ${MAX_PAGE_SIZE}`, param: 'limit' });
  }
  if (startingAfter !== undefined && (typeof startingAfter !== 'string' || !RULE_ID.test(startingAfter))) {
    problems.push({ code: 'invalid_format', message: 'startingAfter must be a rule id (20 lowercase hex digits)', param: 'startingAfter' });
  }
  if (problems.length > 0) throw new ValidationError(problems);
  return { limit, startingAfter };
}
