// The Action interface every protocol method implements (agent-protocol.md §2), and argument
// binding helpers that give the Go agent's error texts (§1.3).

export interface ActionContext {
  /** Request `protocol` (director sends 3; absent = 0). */
  protocol: number;
}

export interface Action {
  readonly name: string;
  /** Async actions answer with a task handle and run on the task worker (§1.5). */
  readonly isAsynchronous: boolean;
  /** When set, the action is async only for requests with protocol >= this (list_disk: 3). */
  readonly asyncFromProtocol?: number;
  /** Persistent tasks survive an agent restart (only update_settings in bosh-agent). */
  readonly isPersistent?: boolean;
  /** Positional arguments that must be present; extra ones are ignored. */
  readonly requiredArgs: number;
  run(args: unknown[], context: ActionContext): Promise<unknown>;
  /** Only cancellable actions (drain, run_errand) have it. */
  cancel?(): Promise<void>;
  /** Persistent actions: what a task resumed after an agent restart answers. */
  resume?(): Promise<unknown>;
}

export class ArgumentError extends Error {}

export function checkArgumentCount(action: Action, args: unknown[]): void {
  if (args.length < action.requiredArgs) {
    throw new ArgumentError(
      `Extracting method arguments from payload: Not enough arguments, expected ${action.requiredArgs}, got ${args.length}`,
    );
  }
}

function typeMismatch(value: unknown, goType: string): ArgumentError {
  const jsonType = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  return new ArgumentError(`Unmarshalling action argument: json: cannot unmarshal ${jsonType} into Go value of type ${goType}`);
}

/** A string argument; JSON null binds to "" as in Go. */
export function stringArg(args: unknown[], index: number): string {
  const value = args[index];
  if (value === null || value === undefined) return '';
  if (typeof value !== 'string') throw typeMismatch(value, 'string');
  return value;
}

/** An object argument; JSON null binds to an empty object. */
export function objectArg<T extends object>(args: unknown[], index: number, goType: string): T {
  const value = args[index];
  if (value === null || value === undefined) return {} as T;
  if (typeof value !== 'object' || Array.isArray(value)) throw typeMismatch(value, goType);
  return value as T;
}
