// Opens the director DB (SQLite file or PostgreSQL) and brings its schema up to date.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import type { DirectorConfig } from '../config.js';
import type { Database } from './schema.js';
import { migrationProvider, type DbAdapter } from './migrations.js';

export type { Database } from './schema.js';
export type DbConfig = DirectorConfig['db'];

/** Opens the DB and runs every pending migration. */
export async function openDatabase(config: DbConfig): Promise<Kysely<Database>> {
  const db = config.adapter === 'sqlite' ? openSqlite(config.database) : openPostgres(config.url);
  try {
    await migrateDatabase(db, config.adapter);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return db;
}

function openSqlite(path: string): Kysely<Database> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SQLite(path);
  sqlite.pragma('journal_mode = WAL'); // readers (API) do not block the writer (task worker)
  sqlite.pragma('busy_timeout = 5000');
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
}

function openPostgres(url: string): Kysely<Database> {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 10 }) }) });
}

export async function migrateDatabase(db: Kysely<Database>, adapter: DbAdapter): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider(adapter) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`Database migration ${failed ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Current time as unix seconds (the integer timestamps of tasks and locks). */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
