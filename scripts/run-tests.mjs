// Runs every test file under test/ with node's test runner (TypeScript through tsx), then the director's
// tests a second time on PostgreSQL (CAPSTAN_TEST_DB=postgres, see test/support/test-db.ts).
// Files run one at a time: the end-to-end tests share Docker, ports and ~/.capstan-test.
// With file arguments, runs just those (on the DB that CAPSTAN_TEST_DB names).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function findTests(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return findTests(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

function run(files, env = {}) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });
  return result.status ?? 1;
}

const postgresInstalled = () =>
  existsSync('/usr/lib/postgresql') && readdirSync('/usr/lib/postgresql').some((v) => existsSync(join('/usr/lib/postgresql', v, 'bin', 'initdb')));

const only = process.argv.slice(2);
if (only.length) process.exit(run(only.sort()));

const sqliteStatus = run(findTests('test').sort());
if (!postgresInstalled()) {
  console.log('# PostgreSQL server binaries not installed: the director tests ran on SQLite only');
  process.exit(sqliteStatus);
}
console.log('# the director tests again, on PostgreSQL (CAPSTAN_TEST_DB=postgres)');
// Left out: postgres.test.ts (PostgreSQL already) and the Docker-CPI director tests, whose DB work is the
// same as their dummy-CPI twins' and whose VMs would only add minutes.
const onSqliteOnly = /(postgres|docker-disks|two-docker-hosts)\.test\.ts$/;
const directorTests = findTests(join('test', 'director')).filter((f) => !onSqliteOnly.test(f)).sort();
const postgresStatus = run(directorTests, { CAPSTAN_TEST_DB: 'postgres' });
process.exit(sqliteStatus || postgresStatus);
