// Kysely types of the day-2 tables (migration 0003_day2) and a typed view of the director DB with them.
import type { Generated, Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export interface DeploymentProblemsTable {
  id: Generated<number>;
  deployment_id: number;
  type: string; // unresponsive_agent | missing_vm
  resource_id: number; // vms.id
  data_json: string;
  state: string; // open | closed | resolved
  created_at: string;
}

export interface EventsTable {
  id: Generated<number>;
  parent_id: number | null;
  timestamp: number; // unix seconds
  user: string;
  action: string;
  object_type: string;
  object_name: string | null;
  error: string | null;
  task: string | null;
  deployment: string | null;
  instance: string | null;
  context_json: string;
}

export interface DirectorAttributesTable {
  name: string;
  value: string | null;
}

export interface Day2Database extends Database {
  deployment_problems: DeploymentProblemsTable;
  events: EventsTable;
  director_attributes: DirectorAttributesTable;
}

export const day2Db = (db: Kysely<Database>): Kysely<Day2Database> => db as unknown as Kysely<Day2Database>;
