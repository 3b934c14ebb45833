// Ops files with go-patch semantics (what `bosh -o` applies to manifests and configs):
//   - type: replace | remove | test
//     path: /instance_groups/name=web/jobs/-       (JSON-pointer-like, see parsePointer)
//     value: ...                                    (replace; test compares it)
// Path tokens: `key`, `key?` (optional: missing parts are created by replace and skipped by
// remove; every token after an optional one is optional too), `3` (array index, with
// `:prev`/`:next`/`:before`/`:after`), `-` (after the last item: append), `name=value`
// (the one array item whose `name` is `value`; `name=value?` appends `{name: value}` when none).
// Documents are plain JS values (maps are objects); operations never mutate their input.
import { parse } from 'yaml';

export type Token =
  | { kind: 'index'; index: number; modifier?: Modifier; optional: boolean }
  | { kind: 'after-last'; optional: boolean }
  | { kind: 'match'; key: string; value: string; modifier?: Modifier; optional: boolean }
  | { kind: 'key'; key: string; optional: boolean };

type Modifier = 'prev' | 'next' | 'before' | 'after';

export interface Pointer {
  text: string;
  tokens: Token[];
}

export type Operation =
  | { type: 'replace'; path: Pointer; value: unknown }
  | { type: 'remove'; path: Pointer }
  | { type: 'test'; path: Pointer; value?: unknown; absent?: boolean };

/** An operation from a file, remembered with where it came from (for error messages). */
export interface SourcedOperation {
  op: Operation;
  /** Index of the operation in its file. */
  index: number;
  file: string;
}

export class OpsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OpsError';
  }
}

const MODIFIERS = new Set(['prev', 'next', 'before', 'after']);

/** Parses `/a/b?/0/name=x/-`; `~1` is `/` and `~0` is `~` inside a token. "" and "/" are the root. */
export function parsePointer(text: string): Pointer {
  if (text === '' || text === '/') return { text, tokens: [] };
  if (!text.startsWith('/')) throw new OpsError(`Expected path '${text}' to start with '/'`);
  let optional = false;
  const tokens = text
    .slice(1)
    .split('/')
    .map((raw): Token => {
      const token = parseToken(raw.replace(/~1/g, '/').replace(/~0/g, '~'), optional, text);
      optional = token.optional;
      return token;
    });
  return { text, tokens };
}

function parseToken(raw: string, inheritedOptional: boolean, path: string): Token {
  if (raw === '-') return { kind: 'after-last', optional: inheritedOptional };
  let body = raw;
  let modifier: Modifier | undefined;
  const colon = body.lastIndexOf(':');
  if (colon !== -1 && MODIFIERS.has(body.slice(colon + 1))) {
    modifier = body.slice(colon + 1) as Modifier;
    body = body.slice(0, colon);
  }
  if (/^\d+$/.test(body)) return { kind: 'index', index: Number(body), modifier, optional: inheritedOptional };
  const optional = body.endsWith('?');
  if (optional) body = body.slice(0, -1);
  const eq = body.indexOf('=');
  if (eq > 0) return { kind: 'match', key: body.slice(0, eq), value: body.slice(eq + 1), modifier, optional: optional || inheritedOptional };
  if (modifier) throw new OpsError(`Expected modifier '${modifier}' in path '${path}' to follow an index or a matching token`);
  return { kind: 'key', key: body, optional: optional || inheritedOptional };
}

/** The pointer text up to and including token `i` (what error messages name). */
function prefix(ptr: Pointer, i: number): string {
  const parts = ptr.text.slice(1).split('/');
  return '/' + parts.slice(0, i + 1).join('/');
}

type Json = unknown;
type JsonMap = Record<string, Json>;

const isMap = (v: Json): v is JsonMap => typeof v === 'object' && v !== null && !Array.isArray(v);

function typeName(v: Json): string {
  if (v === null || v === undefined) return 'nil';
  if (Array.isArray(v)) return 'array';
  if (isMap(v)) return 'map';
  return typeof v;
}

function expectArray(v: Json, ptr: Pointer, i: number): Json[] {
  if (!Array.isArray(v)) throw new OpsError(`Expected to find an array at path '${prefix(ptr, i - 1)}' but found '${typeName(v)}'`);
  return v;
}

function expectMap(v: Json, ptr: Pointer, i: number): JsonMap {
  if (!isMap(v)) throw new OpsError(`Expected to find a map at path '${prefix(ptr, i - 1)}' but found '${typeName(v)}'`);
  return v;
}

function missingKey(map: JsonMap, key: string, ptr: Pointer, i: number): OpsError {
  const keys = Object.keys(map).sort();
  const found = keys.length ? `found map keys: ${keys.map((k) => `'${k}'`).join(', ')}` : 'found no other map keys';
  return new OpsError(`Expected to find a map key '${key}' for path '${prefix(ptr, i)}' (${found})`);
}

function checkIndex(arr: Json[], index: number, ptr: Pointer, i: number): number {
  if (index < 0 || index >= arr.length) {
    throw new OpsError(`Expected to find array index '${index}' but found array of length '${arr.length}' for path '${prefix(ptr, i)}'`);
  }
  return index;
}

function matches(arr: Json[], token: Extract<Token, { kind: 'match' }>): number[] {
  const found: number[] = [];
  arr.forEach((item, idx) => {
    if (isMap(item) && Object.hasOwn(item, token.key) && String(item[token.key]) === token.value) found.push(idx);
  });
  return found;
}

/** prev/next shift the index; before/after keep it (they only matter when inserting). */
function shifted(index: number, modifier: Modifier | undefined): number {
  if (modifier === 'prev') return index - 1;
  if (modifier === 'next') return index + 1;
  return index;
}

/** An empty container for a missing optional part, shaped for the token that walks into it. */
function containerFor(next: Token): Json {
  return next.kind === 'key' ? {} : [];
}

function clone<T>(v: T): T {
  return v === undefined ? v : structuredClone(v);
}

/** Resolves the index of an array token (index or match) for walking into or replacing. */
function arrayIndex(arr: Json[], token: Token, ptr: Pointer, i: number): number | undefined {
  if (token.kind === 'index') return checkIndex(arr, shifted(token.index, token.modifier), ptr, i);
  if (token.kind === 'match') {
    const found = matches(arr, token);
    if (found.length === 0 && token.optional) return undefined;
    if (found.length !== 1) {
      throw new OpsError(`Expected to find exactly one matching array item for path '${prefix(ptr, i)}' but found ${found.length}`);
    }
    return checkIndex(arr, shifted(found[0], token.modifier), ptr, i);
  }
  return undefined;
}

export function applyReplace(doc: Json, ptr: Pointer, value: Json): Json {
  if (ptr.tokens.length === 0) return clone(value);
  const root = clone(doc);
  let obj: Json = root;
  ptr.tokens.forEach((token, i) => {
    const last = i === ptr.tokens.length - 1;
    const next = ptr.tokens[i + 1];
    if (token.kind === 'key') {
      const map = expectMap(obj, ptr, i);
      if (last) {
        map[token.key] = clone(value);
        return;
      }
      if (!Object.hasOwn(map, token.key) || (map[token.key] == null && token.optional)) {
        if (!token.optional) throw missingKey(map, token.key, ptr, i);
        map[token.key] = containerFor(next);
      }
      obj = map[token.key];
      return;
    }
    const arr = expectArray(obj, ptr, i);
    if (token.kind === 'after-last') {
      if (!last) throw new OpsError(`Expected not to find any path segments after '-' in path '${ptr.text}'`);
      arr.push(clone(value));
      return;
    }
    const idx = arrayIndex(arr, token, ptr, i);
    if (idx === undefined) {
      // optional name=value with no match: append the value, or a new item to walk into
      const created = last ? clone(value) : { [(token as { key: string }).key]: (token as { value: string }).value };
      arr.push(created);
      obj = created;
      return;
    }
    if (last) {
      if (token.modifier === 'before') arr.splice(idx, 0, clone(value));
      else if (token.modifier === 'after') arr.splice(idx + 1, 0, clone(value));
      else arr[idx] = clone(value);
      return;
    }
    obj = arr[idx];
  });
  return root;
}

export function applyRemove(doc: Json, ptr: Pointer): Json {
  if (ptr.tokens.length === 0) throw new OpsError('Cannot remove entire document');
  const root = clone(doc);
  let obj: Json = root;
  for (let i = 0; i < ptr.tokens.length; i++) {
    const token = ptr.tokens[i];
    const last = i === ptr.tokens.length - 1;
    if (token.kind === 'key') {
      const map = expectMap(obj, ptr, i);
      if (!Object.hasOwn(map, token.key)) {
        if (token.optional) return root;
        throw missingKey(map, token.key, ptr, i);
      }
      if (last) delete map[token.key];
      else obj = map[token.key];
      continue;
    }
    const arr = expectArray(obj, ptr, i);
    if (token.kind === 'after-last') throw new OpsError(`Expected not to find '-' in path '${ptr.text}' of a remove operation`);
    const idx = arrayIndex(arr, token, ptr, i);
    if (idx === undefined) return root;
    if (last) arr.splice(idx, 1);
    else obj = arr[idx];
  }
  return root;
}

/** The value at the pointer; `undefined` when an optional part is missing. */
export function findPath(doc: Json, ptr: Pointer): Json {
  let obj: Json = doc;
  for (let i = 0; i < ptr.tokens.length; i++) {
    const token = ptr.tokens[i];
    if (token.kind === 'key') {
      const map = expectMap(obj, ptr, i);
      if (!Object.hasOwn(map, token.key)) {
        if (token.optional) return undefined;
        throw missingKey(map, token.key, ptr, i);
      }
      obj = map[token.key];
      continue;
    }
    const arr = expectArray(obj, ptr, i);
    if (token.kind === 'after-last') throw new OpsError(`Expected not to find '-' in path '${ptr.text}' when finding a value`);
    const idx = arrayIndex(arr, token, ptr, i);
    if (idx === undefined) return undefined;
    obj = arr[idx];
  }
  return obj;
}

function applyTest(doc: Json, op: Extract<Operation, { type: 'test' }>): Json {
  let found: Json;
  let present = true;
  try {
    found = findPath(doc, op.path);
    present = found !== undefined;
  } catch (err) {
    if (!op.absent) throw err;
    present = false;
  }
  if (op.absent) {
    if (present) throw new OpsError(`Expected path '${op.path.text}' to be absent`);
    return doc;
  }
  if (JSON.stringify(canonical(found)) !== JSON.stringify(canonical(op.value))) {
    throw new OpsError(`Found value does not match expected value`);
  }
  return doc;
}

function canonical(v: Json): Json {
  if (Array.isArray(v)) return v.map(canonical);
  if (isMap(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]));
  return v;
}

export function applyOperation(doc: Json, op: Operation): Json {
  switch (op.type) {
    case 'replace':
      return applyReplace(doc, op.path, op.value);
    case 'remove':
      return applyRemove(doc, op.path);
    case 'test':
      return applyTest(doc, op);
  }
}

/**
 * Applies operations in order; a failure names the operation:
 * `Operation [2] in 'ops.yml' (replace '/x/y') failed: Expected to find a map key 'x' ...`.
 */
export function applyOperations(doc: Json, ops: SourcedOperation[]): Json {
  let current = doc;
  for (const { op, index, file } of ops) {
    try {
      current = applyOperation(current, op);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new OpsError(`Operation [${index}] in '${file}' (${op.type} '${op.path.text}') failed: ${message}`);
    }
  }
  return current;
}

/** Reads the operations of one ops file (a YAML array of `{type, path, value}`). */
export function parseOpsFile(text: string, file: string): SourcedOperation[] {
  let doc: unknown;
  try {
    doc = parse(text, { version: '1.1' });
  } catch (err) {
    // syntax errors, unresolved aliases and anchor bombs alike: a clear error naming the file
    throw new OpsError(`Invalid YAML in ops file '${file}': ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc)) throw new OpsError(`Expected ops file '${file}' to be a YAML array of operations`);
  return doc.map((raw, index) => ({ op: toOperation(raw, index, file), index, file }));
}

function toOperation(raw: unknown, index: number, file: string): Operation {
  const where = `Operation [${index}] in '${file}'`;
  if (!isMap(raw)) throw new OpsError(`${where}: Expected a map but found '${typeName(raw)}'`);
  if (typeof raw.path !== 'string') throw new OpsError(`${where}: Missing path`);
  let path: Pointer;
  try {
    path = parsePointer(raw.path);
  } catch (err) {
    throw new OpsError(`${where}: ${(err as Error).message}`);
  }
  switch (raw.type) {
    case 'replace':
      if (!Object.hasOwn(raw, 'value')) throw new OpsError(`${where} (replace '${raw.path}'): Missing value`);
      return { type: 'replace', path, value: raw.value };
    case 'remove':
      if (Object.hasOwn(raw, 'value')) throw new OpsError(`${where} (remove '${raw.path}'): Cannot specify value`);
      return { type: 'remove', path };
    case 'test':
      return { type: 'test', path, value: raw.value, absent: raw.absent === true };
    default:
      throw new OpsError(`${where}: Unknown operation type '${String(raw.type)}'`);
  }
}
