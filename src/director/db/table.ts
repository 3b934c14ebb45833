// What every migration's tables start with: an integer primary key the DB assigns, in each adapter's words.
import type { CreateTableBuilder, Kysely } from 'kysely';

export type DbAdapter = 'sqlite' | 'postgres';

export type Table = CreateTableBuilder<string, never>;

export function createTableWithId(db: Kysely<any>, adapter: DbAdapter, name: string): Table {
  const table = db.schema.createTable(name) as Table;
  return adapter === 'postgres'
    ? table.addColumn('id', 'serial', (c) => c.primaryKey())
    : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}
