// Persistent disks (director-api.md §11): the disks instances own (`persistent_disks`, one active per
// instance, inactive ones left by a failed migration) and the disks the director orphaned
// (`orphan_disks`, kept until `delete-disk` or `clean-up --all`).
import type { Kysely, Migration } from 'kysely';
import { createTableWithId, type DbAdapter } from './table.js';

const withId = createTableWithId;

export function persistentDisksMigration(adapter: DbAdapter): Migration {
  return {
    async up(db: Kysely<any>) {
      await withId(db, adapter, 'persistent_disks')
        .addColumn('instance_id', 'integer', (c) => c.notNull())
        .addColumn('disk_cid', 'text', (c) => c.notNull().unique())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('active', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('cloud_properties_json', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('name', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('cpi', 'text', (c) => c.notNull().defaultTo(''))
        .execute();
      await db.schema.createIndex('persistent_disks_instance_id_idx').on('persistent_disks').column('instance_id').execute();

      await withId(db, adapter, 'orphan_disks')
        .addColumn('disk_cid', 'text', (c) => c.notNull().unique())
        .addColumn('size', 'integer')
        .addColumn('availability_zone', 'text')
        .addColumn('deployment_name', 'text', (c) => c.notNull())
        .addColumn('instance_name', 'text', (c) => c.notNull())
        .addColumn('cloud_properties_json', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('cpi', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>) {
      for (const table of ['orphan_disks', 'persistent_disks']) await db.schema.dropTable(table).ifExists().execute();
    },
  };
}
