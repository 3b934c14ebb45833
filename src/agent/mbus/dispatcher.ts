// Turns one request body into one response (agent-protocol.md §1.2-§1.5). No I/O here: the NATS
// handler feeds bodies in and publishes what comes out, so dispatch is unit-testable.
import type { AgentResponse } from '../../common/protocol.js';
import type { Logger } from '../../common/logging.js';
import { checkArgumentCount, type Action } from '../actions/action.js';
import type { TaskManager } from './task-manager.js';

export interface ActionFactory {
  /** A fresh action for `method`, or undefined when the method is unknown. */
  create(method: string): Action | undefined;
}

export interface DispatchDeps {
  factory: ActionFactory;
  tasks: TaskManager;
  logger: Logger;
}

export interface Dispatched {
  replyTo: string;
  method: string;
  response: AgentResponse;
}

interface ParsedRequest {
  method: string;
  args: unknown[];
  replyTo: string;
  protocol: number;
}

/** Go matches JSON keys case-insensitively for untagged fields. */
function field(body: Record<string, unknown>, name: string): unknown {
  const key = Object.keys(body).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : body[key];
}

export function parseRequest(raw: string | Uint8Array): ParsedRequest {
  const text = typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8');
  const body = JSON.parse(text) as unknown;
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error('request is not a JSON object');
  const obj = body as Record<string, unknown>;
  const args = field(obj, 'arguments');
  const protocol = field(obj, 'protocol');
  return {
    method: String(field(obj, 'method') ?? ''),
    args: Array.isArray(args) ? args : [],
    replyTo: String(field(obj, 'reply_to') ?? ''),
    protocol: typeof protocol === 'number' ? protocol : 0,
  };
}

const failure = (message: string): AgentResponse => ({ exception: { message } });
const handle = (id: string): AgentResponse => ({ value: { agent_task_id: id, state: 'running' } });

/** list_disk is async only for protocol >= 3 (§1.2). */
function isAsync(action: Action, protocol: number): boolean {
  return action.asyncFromProtocol !== undefined ? protocol >= action.asyncFromProtocol : action.isAsynchronous;
}

/** Returns undefined for a body that is not valid JSON: it is logged and dropped, nobody is answered. */
export async function dispatch(raw: string | Uint8Array, deps: DispatchDeps): Promise<Dispatched | undefined> {
  let request: ParsedRequest;
  try {
    request = parseRequest(raw);
  } catch (err) {
    deps.logger.error({ err: (err as Error).message }, 'Failed to unmarshal request; dropping it');
    return undefined;
  }
  const { method, args, replyTo, protocol } = request;
  return { replyTo, method, response: await respond(method, args, protocol, deps, raw) };
}

async function respond(method: string, args: unknown[], protocol: number, deps: DispatchDeps, raw: string | Uint8Array): Promise<AgentResponse> {
  const action = deps.factory.create(method);
  if (!action) return failure(`unknown message ${method}`);
  deps.logger.info({ method, protocol }, 'Received request');
  const run = async () => {
    checkArgumentCount(action, args);
    return action.run(args, { protocol });
  };
  if (isAsync(action, protocol)) {
    // A full queue holds up this (serial) message handler, like bosh-agent's 5-slot channel.
    await deps.tasks.waitForSlot();
    if (!action.isPersistent) return handle(deps.tasks.start(action, run).id);
    try {
      return handle((await deps.tasks.startPersistent(action, run, raw)).id);
    } catch (err) {
      return failure(`Create Task Failed ${method}: ${(err as Error).message}`);
    }
  }
  try {
    return { value: await run() };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    deps.logger.warn({ method, err: message }, 'Action failed');
    return failure(`Action Failed ${method}: ${message}`);
  }
}

export const MAX_RESPONSE_BYTES = 1024 * 1024;
const TRUNCATION_MARKER = '\n...[truncated]...\n';
const TOO_LONG = JSON.stringify(failure('Response exceeded maximum allowed length'));

/** Serializes a response within the NATS cap (§1.4): long exception texts keep head and tail. */
export function encodeResponse(response: AgentResponse, maxBytes = MAX_RESPONSE_BYTES): string {
  const full = JSON.stringify(response);
  if (Buffer.byteLength(full) <= maxBytes) return full;
  if (!('exception' in response)) return TOO_LONG;
  const message = response.exception.message;
  let keep = maxBytes - Buffer.byteLength(JSON.stringify(failure(TRUNCATION_MARKER)));
  while (keep > 0) {
    const head = message.slice(0, Math.ceil(keep / 2));
    const tail = message.slice(message.length - Math.floor(keep / 2));
    const candidate = JSON.stringify(failure(head + TRUNCATION_MARKER + tail));
    const size = Buffer.byteLength(candidate);
    if (size <= maxBytes) return candidate;
    // Escapes and multi-byte characters made it longer than its length: shrink proportionally.
    keep = Math.floor((keep * maxBytes) / size) - 1;
  }
  return TOO_LONG;
}
