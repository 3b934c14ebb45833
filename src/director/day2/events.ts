// The director's event log (GET /events, director-api.md §2.1): who did what to which object, when.
// A task records a begin event and an end event whose parent is the begin event.
import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../db/schema.js';
import { nowSeconds } from '../db/index.js';
import { day2Db, type EventsTable } from './db.js';

export interface NewEvent {
  user: string;
  action: string;
  objectType: string;
  objectName?: string | null;
  task?: number | null;
  deployment?: string | null;
  instance?: string | null;
  parentId?: number | null;
  error?: string | null;
  context?: Record<string, unknown>;
}

export async function recordEvent(db: Kysely<Database>, event: NewEvent): Promise<number> {
  const row = await day2Db(db)
    .insertInto('events')
    .values({
      parent_id: event.parentId ?? null,
      timestamp: nowSeconds(),
      user: event.user,
      action: event.action,
      object_type: event.objectType,
      object_name: event.objectName ?? null,
      error: event.error ?? null,
      task: event.task === undefined || event.task === null ? null : String(event.task),
      deployment: event.deployment ?? null,
      instance: event.instance ?? null,
      context_json: JSON.stringify(event.context ?? {}),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Runs fn between a begin event and an end event (with the error when fn fails). */
export async function withEvents<T>(db: Kysely<Database>, event: NewEvent, fn: () => Promise<T>): Promise<T> {
  const parentId = await recordEvent(db, event);
  try {
    const result = await fn();
    await recordEvent(db, { ...event, parentId });
    return result;
  } catch (err) {
    await recordEvent(db, { ...event, parentId, error: err instanceof Error ? err.message : String(err) }).catch(() => undefined);
    throw err;
  }
}

export interface EventFilters {
  before_id?: string;
  before_time?: string;
  after_time?: string;
  deployment?: string;
  task?: string;
  instance?: string;
  user?: string;
  action?: string;
  object_type?: string;
  object_name?: string;
}

const MAX_EVENTS = 200;

/** Times are unix seconds or anything Date parses (the CLI sends `Mon Jan 2 15:04:05 UTC 2006`-style text). */
function timeFilter(value: string): number {
  return /^\d+$/.test(value) ? Number(value) : Math.floor(new Date(value).getTime() / 1000);
}

export async function listEvents(db: Kysely<Database>, filters: EventFilters) {
  let query = day2Db(db).selectFrom('events').selectAll().orderBy('id', 'desc').limit(MAX_EVENTS);
  if (filters.before_id) query = query.where('id', '<', Number(filters.before_id));
  if (filters.before_time) query = query.where('timestamp', '<', timeFilter(filters.before_time));
  if (filters.after_time) query = query.where('timestamp', '>', timeFilter(filters.after_time));
  for (const key of ['deployment', 'task', 'instance', 'user', 'action', 'object_type', 'object_name'] as const) {
    const value = filters[key];
    if (value) query = query.where(key, '=', value);
  }
  return (await query.execute()).map(eventView);
}

export async function findEvent(db: Kysely<Database>, id: string) {
  if (!/^\d+$/.test(id)) return undefined;
  const row = await day2Db(db).selectFrom('events').selectAll().where('id', '=', Number(id)).executeTakeFirst();
  return row ? eventView(row) : undefined;
}

/** Ids are JSON strings (the CLI decodes them into strings); empty keys are left out. */
function eventView(row: Selectable<EventsTable>) {
  const view: Record<string, unknown> = {
    id: String(row.id),
    timestamp: row.timestamp,
    user: row.user,
    action: row.action,
    object_type: row.object_type,
    context: JSON.parse(row.context_json),
  };
  if (row.parent_id !== null) view.parent_id = String(row.parent_id);
  for (const key of ['object_name', 'error', 'task', 'deployment', 'instance'] as const) if (row[key]) view[key] = row[key];
  return view;
}
