// What each VM's agent was last given of the director's agent settings (director-api.md §11, §6.1
// "changes"): SHA-1s of the trusted certs, the blobstore settings and the NATS (mbus) settings. A
// deploy compares them with the director's current ones and, when they differ, updates the agent
// with update_settings instead of recreating the VM. NULL (VMs made before this column): unknown,
// so the next deploy updates the agent.
import type { Kysely, Migration } from 'kysely';
import type { DbAdapter } from './migrations.js';

const COLUMNS = ['trusted_certs_sha1', 'blobstore_config_sha1', 'nats_config_sha1'];

export function vmSettingsSha1Migration(_adapter: DbAdapter): Migration {
  return {
    async up(db: Kysely<any>) {
      // one column per statement: SQLite's ALTER TABLE adds a single column
      for (const column of COLUMNS) await db.schema.alterTable('vms').addColumn(column, 'text').execute();
    },
    async down(db: Kysely<any>) {
      for (const column of COLUMNS) await db.schema.alterTable('vms').dropColumn(column).execute();
    },
  };
}
