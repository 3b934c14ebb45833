// Checking JSON values against the shapes director-api.md documents: a key maps to a type name
// ('string', 'number', 'boolean', 'object', 'array', 'null', or alternatives joined with '|');
// a key starting with '?' may be absent.
import assert from 'node:assert/strict';

export type Shape = Record<string, string>;

/** §3.1: the task object. */
export const TASK_SHAPE: Shape = {
  id: 'number', state: 'string', description: 'string', timestamp: 'number|null', started_at: 'number|null',
  result: 'string|null', user: 'string', deployment: 'string|null', context_id: 'string',
};

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

export function assertShape(value: unknown, shape: Shape, what: string): void {
  assert.equal(typeOf(value), 'object', `${what} is a JSON object`);
  const record = value as Record<string, unknown>;
  for (const [rawKey, types] of Object.entries(shape)) {
    const optional = rawKey.startsWith('?');
    const key = optional ? rawKey.slice(1) : rawKey;
    if (!(key in record)) {
      assert.ok(optional, `${what}: '${key}' is missing in ${JSON.stringify(record)}`);
      continue;
    }
    assert.ok(types.split('|').includes(typeOf(record[key])), `${what}: '${key}' is ${typeOf(record[key])}, expected ${types}`);
  }
}
