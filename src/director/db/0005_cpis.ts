// cpi-config (src/director/cpis.ts): vms.cpi names the CPI that made the VM, '' for the director
// config's own CPI (as stemcells.cpi already did). Before, every VM came from that CPI and its row
// carried the CPI's type (docker, dummy, external), which a cpi-config may now use as a CPI name.
import { sql, type Kysely, type Migration } from 'kysely';
import type { DbAdapter } from './migrations.js';

export function cpisMigration(_adapter: DbAdapter): Migration {
  return {
    async up(db: Kysely<any>) {
      await sql`UPDATE vms SET cpi = ''`.execute(db);
    },
    async down() {
      // the default CPI's name is not known here; '' stays valid for it
    },
  };
}
