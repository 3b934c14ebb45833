// Configs (director-api.md §2.9): generic /configs plus the legacy /cloud_configs, /runtime_configs and
// /cpi_configs; their diff routes are in config-diff.ts.
import type { FastifyInstance } from 'fastify';
import type { Kysely, Selectable } from 'kysely';
import { parse as parseYaml } from 'yaml';
import { badRequest, notFound } from '../../common/errors.js';
import type { ConfigsTable, Database } from '../db/schema.js';
import { positiveInt, type ApiContext } from './helpers.js';
import { parseCpiConfig } from '../cpis.js';

type ConfigRow = Selectable<ConfigsTable>;

export async function configRoutes(app: FastifyInstance, { director }: ApiContext): Promise<void> {
  const { db } = director;

  app.get<{ Querystring: { type?: string; name?: string; latest?: string; limit?: string } }>('/configs', async (request) => {
    const { type, name, latest } = request.query;
    const limit = positiveInt(request.query.limit, 'limit') ?? (latest === 'false' ? undefined : 1);
    let query = db.selectFrom('configs').selectAll().where('deleted', '=', 0).orderBy('id', 'desc');
    if (type) query = query.where('type', '=', type);
    if (name !== undefined) query = query.where('name', '=', name);
    const rows = await query.execute();
    const currentIds = latestIds(rows);
    return keepNewestPerKey(rows, limit).map((row) => configView(row, currentIds.has(row.id)));
  });

  app.get<{ Params: { id: string } }>('/configs/:id', async (request) => {
    const row = await db.selectFrom('configs').selectAll().where('id', '=', Number(request.params.id) || 0).executeTakeFirst();
    if (!row) throw notFound(`Config ${request.params.id} not found`, 440012);
    const latest = await latestConfig(db, row.type, row.name);
    return configView(row, latest?.id === row.id);
  });

  app.post<{ Body: { type?: string; name?: string; content?: string; expected_latest_id?: string | number | null } }>('/configs', async (request, reply) => {
    const { type, name, content, expected_latest_id: expected } = request.body ?? {};
    if (!type || !name || typeof content !== 'string') throw badRequest("Config requires 'type', 'name' and 'content'", 440010);
    // `update-config` sends the version its diff was made against: someone else's update in between is refused
    if (expected !== undefined && expected !== null && expected !== '') {
      const latestId = (await latestConfig(db, type, name))?.id;
      if (String(expected) !== String(latestId)) {
        return reply.code(412).send({ latest_id: latestId === undefined ? null : String(latestId), expected_latest_id: String(expected), description: `Latest Id: '${latestId ?? ''}' does not match expected latest id` });
      }
    }
    const row = await storeConfig(db, type, name, content);
    return reply.code(201).send(configView(row, true));
  });

  app.delete<{ Querystring: { type?: string; name?: string } }>('/configs', async (request, reply) => {
    const { type, name } = request.query;
    if (!type) throw badRequest("Config requires 'type'", 440010);
    const result = await db.updateTable('configs').set({ deleted: 1 }).where('type', '=', type).where('name', '=', name || 'default').where('deleted', '=', 0).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw notFound(`No config found with type '${type}' and name '${name || 'default'}'`, 440012);
    return reply.code(204).send();
  });

  for (const [path, type] of [['/cloud_configs', 'cloud'], ['/runtime_configs', 'runtime'], ['/cpi_configs', 'cpi']] as const) {
    app.get<{ Querystring: { name?: string; limit?: string } }>(path, async (request) => {
      const limit = positiveInt(request.query.limit, 'limit');
      if (limit === undefined) throw badRequest("Parameter 'limit' is required", 40001);
      const rows = await db
        .selectFrom('configs')
        .selectAll()
        .where('type', '=', type)
        .where('name', '=', request.query.name || 'default')
        .where('deleted', '=', 0)
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
      return rows.map((row) => ({ properties: row.content, created_at: row.created_at }));
    });
    app.post<{ Querystring: { name?: string } }>(path, async (request, reply) => {
      await storeConfig(db, type, request.query.name || 'default', typeof request.body === 'string' ? request.body : '');
      return reply.code(201).send();
    });
  }

}

export async function latestConfig(db: Kysely<Database>, type: string, name = 'default'): Promise<ConfigRow | undefined> {
  return db.selectFrom('configs').selectAll().where('type', '=', type).where('name', '=', name).where('deleted', '=', 0).orderBy('id', 'desc').limit(1).executeTakeFirst();
}

/** Stores a new version unless the latest one has the same content (then returns that one). */
async function storeConfig(db: Kysely<Database>, type: string, name: string, content: string): Promise<ConfigRow> {
  assertYamlHash(content);
  if (type === 'cpi') parseCpiConfig(content); // a broken cpi-config would fail every later CPI call
  const latest = await latestConfig(db, type, name);
  if (latest && latest.content === content) return latest;
  return db
    .insertInto('configs')
    .values({ type, name, content, created_at: new Date().toISOString(), deleted: 0 })
    .returningAll()
    .executeTakeFirstOrThrow();
}

function assertYamlHash(content: string): void {
  let parsed: unknown;
  try {
    parsed = parseYaml(content);
  } catch (err) {
    throw badRequest(`Config must be valid YAML: ${(err as Error).message}`, 440001);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw badRequest('Config must be a YAML hash', 440001);
}

function latestIds(rows: ConfigRow[]): Set<number> {
  const seen = new Map<string, number>();
  for (const row of rows) if (!seen.has(`${row.type}\0${row.name}`)) seen.set(`${row.type}\0${row.name}`, row.id);
  return new Set(seen.values());
}

/** Rows come newest first; keeps up to `limit` of each (type, name). */
function keepNewestPerKey(rows: ConfigRow[], limit: number | undefined): ConfigRow[] {
  const counts = new Map<string, number>();
  return rows.filter((row) => {
    const key = `${row.type}\0${row.name}`;
    const count = (counts.get(key) ?? 0) + 1;
    counts.set(key, count);
    return limit === undefined || count <= limit;
  });
}

function configView(row: ConfigRow, current: boolean) {
  return { id: String(row.id), name: row.name, type: row.type, content: row.content, team: null, created_at: row.created_at, current };
}
