// Migration 0002: provided links (for consumers in other deployments) and director-generated
// variables (values encrypted with the director's key file, never stored in clear).
import type { Kysely, Migration } from 'kysely';
import { createTableWithId, type DbAdapter } from './table.js';

export function linksAndVariables(adapter: DbAdapter): Migration {
  const withId = (db: Kysely<any>, name: string) => createTableWithId(db, adapter, name);
  return {
    async up(db: Kysely<any>) {
      await withId(db, 'link_providers')
        .addColumn('deployment_id', 'integer', (c) => c.notNull())
        .addColumn('instance_group', 'text', (c) => c.notNull())
        .addColumn('job', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('alias', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('shared', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('content_json', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('link_providers_deployment_idx').on('link_providers').column('deployment_id').execute();

      await withId(db, 'deployment_variables')
        .addColumn('deployment_id', 'integer', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('value_encrypted', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('deployment_variables_deployment_id_name_key', ['deployment_id', 'name'])
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('deployment_variables').ifExists().execute();
      await db.schema.dropTable('link_providers').ifExists().execute();
    },
  };
}
