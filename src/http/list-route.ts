/**
 * `GET /v1/errors`: MailerQ's listing (a JSON array of every rule, in insertion order) and, with `limit`
 * or `starting_after` in the query, one page of it in id order. The body stays an array either way; the
 * next page's cursor travels in headers (`Link: <...>; rel="next"`, RFC 8288, and `X-Next-Cursor`), which
 * the last page does not carry.
 */
import { type Interceptor, type Rule, type RuleFilter, ValidationError } from '../index.js';
import { parseForm } from './body.js';

const LIMIT = /^[0-9]{1,9}$/;
const RULE_ID = /^[0-9a-f]{20}$/;

/** The rules and headers of a `GET` on the collection with this (raw) query string. */
export function listRules(interceptor: Interceptor, query: string, basePath: string): { rules: Rule[]; headers: Record<string, string> } {
  const { limit, starting_after: startingAfter, ...filter } = parseForm(query) as Record<string, string>;
  if (limit === undefined && startingAfter === undefined) return { rules: interceptor.list(filter as RuleFilter), headers: {} };
  const problems = [];
  // The range is the core's to check (it names `limit` too); only the text form is checked here.
  if (limit !== undefined && !LIMIT.test(limit)) {
    problems.push({ code: 'invalid_type', message: `limit must be an integer (got "${limit}")`, param: 'limit' });
  }
  if (startingAfter !== undefined && !RULE_ID.test(startingAfter)) {
    problems.push({ code: 'invalid_format', message: 'starting_after must be a rule id (20 lowercase hex digits), the X-Next-Cursor of the previous page', param: 'starting_after' });
  }
  if (problems.length > 0) throw new ValidationError(problems);
  const page = interceptor.listPage(filter as RuleFilter, { limit: limit === undefined ? undefined : Number(limit), startingAfter });
  if (page.next === undefined) return { rules: page.rules, headers: {} };
  const next = new URLSearchParams(filter);
  next.set('limit', String(limit ?? page.rules.length));
  next.set('starting_after', page.next);
  return { rules: page.rules, headers: { link: `<${basePath}?${next.toString()}>; rel="next"`, 'x-next-cursor': page.next } };
}
