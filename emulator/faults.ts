import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { Problem, problemAnswer, reply } from './http.js';
import { OPENAI_ROUTES, openAiErrorAnswer } from './openai-routes.js';
import type { Fault, RecordedRequest, Route } from './types.js';

/** Faults injected and not yet used up, applied in the order given. */
export class Faults {
  private readonly pending: Array<{ fault: Fault; left: number }> = [];

  add(fault: Fault): void {
    this.pending.push({ fault, left: fault.times ?? 1 });
  }

  clear(): void {
    this.pending.splice(0);
  }

  /** The next fault for a request of `route`, used up by one; undefined when none is left. */
  take(route: Route | undefined): Fault | undefined {
    const slot = this.pending.find((f) => f.fault.route === route && f.left > 0);
    if (slot) slot.left -= 1;
    return slot?.fault;
  }
}

/**
 * Answers a request as a fault says (or leaves it hanging), and records the outcome. A status
 * without a body gets Replicate's problem body, or OpenAI's error body on the OpenAI-style routes.
 */
export function applyFault(
  req: IncomingMessage,
  res: ServerResponse,
  record: RecordedRequest,
  { route, answer }: Fault,
): void {
  record.outcome = typeof answer === 'string' ? (answer === 'malformed' ? 200 : answer) : answer.status;
  if (answer === 'hang') return;
  if (answer === 'reset') return void req.socket.destroy();
  if (answer === 'malformed')
    return reply(res, { status: 200, body: Buffer.from('{"id": "abc", "status": "star'), type: 'application/json' });
  const body =
    typeof answer.body === 'function'
      ? (answer.body as (headers: IncomingHttpHeaders) => unknown)(req.headers)
      : answer.body;
  if (typeof body === 'string')
    return reply(res, { status: answer.status, body: Buffer.from(body), type: 'text/html' });
  const title = STATUS_CODES[answer.status] ?? 'Error';
  const problem = OPENAI_ROUTES.includes(route)
    ? openAiErrorAnswer(answer.status, `${title}: injected fault, status ${answer.status}.`)
    : problemAnswer(new Problem(answer.status, title, `Injected fault: status ${answer.status}.`));
  reply(res, {
    ...(body === undefined ? problem : { status: answer.status, body }),
    headers: answer.retryAfter === undefined ? {} : { 'Retry-After': answer.retryAfter },
  });
}
