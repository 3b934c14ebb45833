// Director DB migrations, portable across SQLite and PostgreSQL: only `text` and `integer` columns,
// and an id column that each dialect spells its own way (the one difference that matters).
import { day2Migration } from './0003_day2.js';
import { persistentDisksMigration } from './0004_persistent_disks.js';
import { cpisMigration } from './0005_cpis.js';
import { vmSettingsSha1Migration } from './0006_vm_settings_sha1.js';
import { Kysely, type Migration, type MigrationProvider } from 'kysely';
import { createTableWithId, type DbAdapter } from './table.js';
import { linksAndVariables } from './0002_links_variables.js';

export type { DbAdapter } from './table.js';
const withId = createTableWithId;

const int = 'integer';
const text = 'text';

function initial(adapter: DbAdapter): Migration {
  return {
    async up(db: Kysely<any>) {
      await withId(db, adapter, 'tasks')
        .addColumn('state', text, (c) => c.notNull())
        .addColumn('type', text, (c) => c.notNull())
        .addColumn('description', text, (c) => c.notNull())
        .addColumn('result', text)
        .addColumn('timestamp', int)
        .addColumn('started_at', int)
        .addColumn('checkpoint_time', int)
        .addColumn('username', text, (c) => c.notNull())
        .addColumn('deployment_name', text)
        .addColumn('context_id', text, (c) => c.notNull().defaultTo(''))
        .addColumn('event_output', text, (c) => c.notNull().defaultTo(''))
        .addColumn('result_output', text, (c) => c.notNull().defaultTo(''))
        .addColumn('payload_json', text, (c) => c.notNull().defaultTo('{}'))
        .execute();
      await db.schema.createIndex('tasks_state_idx').on('tasks').column('state').execute();

      await withId(db, adapter, 'locks')
        .addColumn('name', text, (c) => c.notNull().unique())
        .addColumn('uid', text, (c) => c.notNull())
        .addColumn('expired_at', int, (c) => c.notNull())
        .addColumn('task_id', int, (c) => c.notNull())
        .execute();

      await withId(db, adapter, 'deployments')
        .addColumn('name', text, (c) => c.notNull().unique())
        .addColumn('manifest_text', text)
        .addColumn('cloud_config_id', int)
        .execute();

      await withId(db, adapter, 'instances')
        .addColumn('deployment_id', int, (c) => c.notNull())
        .addColumn('job', text, (c) => c.notNull())
        .addColumn('index', int, (c) => c.notNull())
        .addColumn('uuid', text, (c) => c.notNull().unique())
        .addColumn('state', text, (c) => c.notNull())
        .addColumn('availability_zone', text)
        .addColumn('compilation', int, (c) => c.notNull().defaultTo(0))
        .addColumn('bootstrap', int, (c) => c.notNull().defaultTo(0))
        .addColumn('spec_json', text)
        .addColumn('update_completed', int, (c) => c.notNull().defaultTo(0))
        .addColumn('ignore', int, (c) => c.notNull().defaultTo(0))
        .execute();

      await withId(db, adapter, 'vms')
        .addColumn('instance_id', int, (c) => c.notNull())
        .addColumn('agent_id', text, (c) => c.notNull().unique())
        .addColumn('cid', text, (c) => c.notNull())
        .addColumn('active', int, (c) => c.notNull().defaultTo(0))
        .addColumn('cpi', text, (c) => c.notNull().defaultTo(''))
        .addColumn('created_at', text, (c) => c.notNull())
        .addColumn('network_spec_json', text)
        .addColumn('env_json', text)
        .addColumn('cloud_properties_json', text)
        .addColumn('stemcell_name', text)
        .addColumn('stemcell_version', text)
        .addColumn('stemcell_api_version', int)
        .execute();

      await withId(db, adapter, 'ip_addresses')
        .addColumn('network_name', text, (c) => c.notNull())
        .addColumn('address_str', text, (c) => c.notNull())
        .addColumn('static', int, (c) => c.notNull().defaultTo(0))
        .addColumn('instance_id', int)
        .addColumn('vm_id', int)
        .addColumn('task_id', text)
        .addColumn('created_at', text, (c) => c.notNull())
        .execute();

      await withId(db, adapter, 'releases').addColumn('name', text, (c) => c.notNull().unique()).execute();

      await withId(db, adapter, 'release_versions')
        .addColumn('release_id', int, (c) => c.notNull())
        .addColumn('version', text, (c) => c.notNull())
        .addColumn('commit_hash', text)
        .addColumn('uncommitted_changes', int, (c) => c.notNull().defaultTo(0))
        .addColumn('update_completed', int, (c) => c.notNull().defaultTo(0))
        .addUniqueConstraint('release_versions_release_id_version_key', ['release_id', 'version'])
        .execute();

      await withId(db, adapter, 'packages')
        .addColumn('release_id', int, (c) => c.notNull())
        .addColumn('name', text, (c) => c.notNull())
        .addColumn('version', text, (c) => c.notNull())
        .addColumn('fingerprint', text, (c) => c.notNull())
        .addColumn('blobstore_id', text)
        .addColumn('sha1', text)
        .addColumn('dependency_set_json', text, (c) => c.notNull().defaultTo('[]'))
        .addUniqueConstraint('packages_release_id_name_version_key', ['release_id', 'name', 'version'])
        .execute();

      await withId(db, adapter, 'templates')
        .addColumn('release_id', int, (c) => c.notNull())
        .addColumn('name', text, (c) => c.notNull())
        .addColumn('version', text, (c) => c.notNull())
        .addColumn('fingerprint', text, (c) => c.notNull())
        .addColumn('blobstore_id', text, (c) => c.notNull())
        .addColumn('sha1', text, (c) => c.notNull())
        .addColumn('package_names_json', text, (c) => c.notNull().defaultTo('[]'))
        .addColumn('spec_json', text, (c) => c.notNull().defaultTo('{}'))
        .addUniqueConstraint('templates_release_id_name_version_key', ['release_id', 'name', 'version'])
        .execute();

      await db.schema
        .createTable('packages_release_versions')
        .addColumn('package_id', int, (c) => c.notNull())
        .addColumn('release_version_id', int, (c) => c.notNull())
        .addPrimaryKeyConstraint('packages_release_versions_pkey', ['package_id', 'release_version_id'])
        .execute();
      await db.schema
        .createTable('release_versions_templates')
        .addColumn('template_id', int, (c) => c.notNull())
        .addColumn('release_version_id', int, (c) => c.notNull())
        .addPrimaryKeyConstraint('release_versions_templates_pkey', ['template_id', 'release_version_id'])
        .execute();

      await withId(db, adapter, 'compiled_packages')
        .addColumn('package_id', int, (c) => c.notNull())
        .addColumn('stemcell_os', text, (c) => c.notNull())
        .addColumn('stemcell_version', text, (c) => c.notNull())
        .addColumn('build', int, (c) => c.notNull())
        .addColumn('blobstore_id', text, (c) => c.notNull())
        .addColumn('sha1', text, (c) => c.notNull())
        .addColumn('dependency_key', text, (c) => c.notNull())
        .addColumn('dependency_key_sha1', text, (c) => c.notNull())
        .execute();

      await withId(db, adapter, 'stemcells')
        .addColumn('name', text, (c) => c.notNull())
        .addColumn('version', text, (c) => c.notNull())
        .addColumn('operating_system', text, (c) => c.notNull())
        .addColumn('cid', text, (c) => c.notNull())
        .addColumn('sha1', text, (c) => c.notNull())
        .addColumn('cpi', text, (c) => c.notNull().defaultTo(''))
        .addColumn('api_version', int)
        .addUniqueConstraint('stemcells_name_version_cpi_key', ['name', 'version', 'cpi'])
        .execute();

      await withId(db, adapter, 'configs')
        .addColumn('type', text, (c) => c.notNull())
        .addColumn('name', text, (c) => c.notNull())
        .addColumn('content', text, (c) => c.notNull())
        .addColumn('created_at', text, (c) => c.notNull())
        .addColumn('deleted', int, (c) => c.notNull().defaultTo(0))
        .execute();

      await db.schema
        .createTable('deployments_release_versions')
        .addColumn('deployment_id', int, (c) => c.notNull())
        .addColumn('release_version_id', int, (c) => c.notNull())
        .addPrimaryKeyConstraint('deployments_release_versions_pkey', ['deployment_id', 'release_version_id'])
        .execute();
      await db.schema
        .createTable('deployments_stemcells')
        .addColumn('deployment_id', int, (c) => c.notNull())
        .addColumn('stemcell_id', int, (c) => c.notNull())
        .addPrimaryKeyConstraint('deployments_stemcells_pkey', ['deployment_id', 'stemcell_id'])
        .execute();

      await withId(db, adapter, 'rendered_templates_archives')
        .addColumn('instance_id', int, (c) => c.notNull())
        .addColumn('blobstore_id', text, (c) => c.notNull())
        .addColumn('sha1', text, (c) => c.notNull())
        .addColumn('content_sha1', text, (c) => c.notNull())
        .addColumn('created_at', text, (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>) {
      for (const table of [
        'rendered_templates_archives', 'deployments_stemcells', 'deployments_release_versions', 'configs',
        'stemcells', 'compiled_packages', 'release_versions_templates', 'packages_release_versions', 'templates',
        'packages', 'release_versions', 'releases', 'ip_addresses', 'vms', 'instances', 'deployments', 'locks', 'tasks',
      ]) {
        await db.schema.dropTable(table).ifExists().execute();
      }
    },
  };
}

/** Migrations in order; names sort chronologically (Kysely runs them by name). */
export function migrationProvider(adapter: DbAdapter): MigrationProvider {
  return {
    async getMigrations() {
      return { '0001_initial': initial(adapter), '0002_links_variables': linksAndVariables(adapter), '0003_day2': day2Migration(adapter), '0004_persistent_disks': persistentDisksMigration(adapter), '0005_cpis': cpisMigration(adapter), '0006_vm_settings_sha1': vmSettingsSha1Migration(adapter) };
    },
  };
}
