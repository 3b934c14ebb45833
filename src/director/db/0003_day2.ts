// Day-2 tables (director-api.md §9, §11): cloud-check problems, the event log and director
// attributes (resurrection pause). Their Kysely types live in day2/db.ts.
import type { Kysely, Migration } from 'kysely';
import { createTableWithId, type DbAdapter } from './table.js';

const withId = createTableWithId;

export function day2Migration(adapter: DbAdapter): Migration {
  return {
    async up(db: Kysely<any>) {
      await withId(db, adapter, 'deployment_problems')
        .addColumn('deployment_id', 'integer', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('resource_id', 'integer', (c) => c.notNull())
        .addColumn('data_json', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('deployment_problems_deployment_state_idx').on('deployment_problems').columns(['deployment_id', 'state']).execute();

      await withId(db, adapter, 'events')
        .addColumn('parent_id', 'integer')
        .addColumn('timestamp', 'integer', (c) => c.notNull())
        .addColumn('user', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('object_type', 'text', (c) => c.notNull())
        .addColumn('object_name', 'text')
        .addColumn('error', 'text')
        .addColumn('task', 'text')
        .addColumn('deployment', 'text')
        .addColumn('instance', 'text')
        .addColumn('context_json', 'text', (c) => c.notNull().defaultTo('{}'))
        .execute();
      await db.schema.createIndex('events_timestamp_idx').on('events').column('timestamp').execute();

      await db.schema
        .createTable('director_attributes')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text')
        .execute();
    },
    async down(db: Kysely<any>) {
      for (const table of ['director_attributes', 'events', 'deployment_problems']) await db.schema.dropTable(table).ifExists().execute();
    },
  };
}
