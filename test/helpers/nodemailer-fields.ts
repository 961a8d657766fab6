// The fields of nodemailer's errors and infos that fidelity tests compare, as plain data.
import { Interceptor } from '../../src/index.js';
import { createFakeMx, type FakeMx } from '../../src/testing/index.js';

const ERROR_FIELDS = ['message', 'code', 'response', 'responseCode', 'permanent', 'command', 'recipient'] as const;

/** An error's nodemailer fields, with `rejected` and `rejectedErrors` (recursively) when present. */
export function errorFields(err: unknown): Record<string, unknown> {
  const e = err as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of ERROR_FIELDS) if (e[f] !== undefined) out[f] = e[f];
  if (Array.isArray(e.rejected)) out.rejected = e.rejected;
  if (Array.isArray(e.rejectedErrors)) out.rejectedErrors = e.rejectedErrors.map(errorFields);
  return out;
}

/** An info's recipient fields; `response` too when asked (it differs between two real servers). */
export function infoFields(info: Record<string, unknown>, withResponse = false): Record<string, unknown> {
  const out: Record<string, unknown> = {
    accepted: info.accepted, rejected: info.rejected,
    rejectedErrors: (info.rejectedErrors as unknown[] | undefined)?.map(errorFields), envelope: info.envelope,
  };
  if (withResponse) out.response = info.response;
  return out;
}

/**
 * The servers of a fidelity test: `realMx` plays `real`'s rules on the wire; `forced` holds the same rules
 * for the adapter, whose unforced mail goes to `plainMx`, which accepts everything.
 */
export async function startFidelityServers(): Promise<{ real: Interceptor; forced: Interceptor; realMx: FakeMx; plainMx: FakeMx; close(): Promise<void> }> {
  const real = new Interceptor();
  const realMx = await createFakeMx({ interceptor: real });
  const plainMx = await createFakeMx({ interceptor: new Interceptor() });
  return { real, forced: new Interceptor(), realMx, plainMx, close: async () => { await realMx.close(); await plainMx.close(); } };
}
