// The director DB a test uses: SQLite by default, PostgreSQL when CAPSTAN_TEST_DB=postgres
// (scripts/run-tests.mjs runs the director tests a second time that way).
// PostgreSQL is a throwaway cluster from Debian's server binaries, one per test process, listening on a
// unix socket only; every director config gets a fresh database in it.
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DirectorConfig } from '../../src/director/config.js';

type DbConfig = DirectorConfig['db'];

export function findPgBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const version = readdirSync(root).sort((a, b) => Number(b) - Number(a)).find((v) => existsSync(join(root, v, 'bin', 'initdb')));
  return version ? join(root, version, 'bin') : null;
}

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresUnavailable(): string | undefined {
  if (findPgBin() === null) return 'PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are not installed';
  if (process.getuid?.() !== 0) return 'PostgreSQL test clusters are started as the postgres user, which needs root';
  return undefined;
}

const asPostgres = (cmd: string) => execFileSync('su', ['postgres', '-s', '/bin/sh', '-c', cmd], { stdio: 'pipe' });

export interface PostgresCluster {
  /** URL of a new, empty database in the cluster. */
  createDatabase(): string;
  stop(): void;
}

export function startPostgresCluster(): PostgresCluster {
  const pgBin = findPgBin();
  if (!pgBin) throw new Error(postgresUnavailable());
  const dir = mkdtempSync(join(tmpdir(), 'capstan-pg-'));
  chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), 0);
  const port = 20000 + Math.floor(Math.random() * 20000); // names the socket file only: no TCP listener
  asPostgres(`${pgBin}/initdb -D ${dir}/data -U postgres --auth=trust >/dev/null`);
  asPostgres(`${pgBin}/pg_ctl -D ${dir}/data -o "-p ${port} -k ${dir} -c listen_addresses='' -c fsync=off" -w -l ${dir}/pg.log start`);
  const urlOf = (db: string) => `postgres://postgres@localhost/${db}?host=${encodeURIComponent(dir)}&port=${port}`;
  let databases = 0;
  let stopped = false;
  return {
    createDatabase() {
      const name = `capstan_test_${++databases}`;
      asPostgres(`${pgBin}/psql -h ${dir} -p ${port} -U postgres -q -c 'CREATE DATABASE ${name}'`);
      return urlOf(name);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      asPostgres(`${pgBin}/pg_ctl -D ${dir}/data -m immediate stop`);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let shared: PostgresCluster | undefined;

export const usePostgres = () => process.env.CAPSTAN_TEST_DB === 'postgres';

/** The DB for a director whose SQLite file would be `sqlitePath`. */
export function testDatabase(sqlitePath: string): DbConfig {
  if (!usePostgres()) return { adapter: 'sqlite', database: sqlitePath };
  if (!shared) {
    shared = startPostgresCluster();
    process.once('exit', () => shared?.stop());
  }
  return { adapter: 'postgres', url: shared.createDatabase() };
}

/** `capstan up --database` for a test environment: a fresh PostgreSQL database, or undefined for SQLite. */
export function testDatabaseFlag(): string | undefined {
  const db = testDatabase('');
  return db.adapter === 'postgres' ? db.url : undefined;
}
