// Which teams own which deployments: a deployment created with a team admin's token belongs to
// that token's admin teams; deployments created by admins belong to no team. Kept in its own
// table (created on first use) so deployment rows and their migrations stay untouched.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export class DeploymentTeams {
  private ready: Promise<void> | undefined;

  constructor(private readonly db: Kysely<Database>) {}

  private ensureTable(): Promise<void> {
    this.ready ??= sql`CREATE TABLE IF NOT EXISTS deployment_teams (
      deployment_name VARCHAR(255) NOT NULL,
      team VARCHAR(255) NOT NULL,
      PRIMARY KEY (deployment_name, team)
    )`.execute(this.db).then(() => undefined);
    return this.ready;
  }

  /** Deployment name -> owning teams, for every deployment that has teams. */
  async all(): Promise<Map<string, string[]>> {
    await this.ensureTable();
    const rows = await sql<{ deployment_name: string; team: string }>`SELECT deployment_name, team FROM deployment_teams ORDER BY team`.execute(this.db);
    const teams = new Map<string, string[]>();
    for (const row of rows.rows) teams.set(row.deployment_name, [...(teams.get(row.deployment_name) ?? []), row.team]);
    return teams;
  }

  async teamsOf(deployment: string): Promise<string[]> {
    await this.ensureTable();
    const rows = await sql<{ team: string }>`SELECT team FROM deployment_teams WHERE deployment_name = ${deployment}`.execute(this.db);
    return rows.rows.map((r) => r.team);
  }

  /** Makes `teams` the owners of a deployment that does not exist yet (stale owners are dropped). */
  async claim(deployment: string, teams: string[]): Promise<void> {
    await this.ensureTable();
    await sql`DELETE FROM deployment_teams WHERE deployment_name = ${deployment}`.execute(this.db);
    for (const team of teams) await sql`INSERT INTO deployment_teams (deployment_name, team) VALUES (${deployment}, ${team})`.execute(this.db);
  }

  async deploymentExists(deployment: string): Promise<boolean> {
    return (await this.db.selectFrom('deployments').select('id').where('name', '=', deployment).executeTakeFirst()) !== undefined;
  }

  async taskDeployment(taskId: string): Promise<string | null | undefined> {
    const row = await this.db.selectFrom('tasks').select('deployment_name').where('id', '=', Number(taskId)).executeTakeFirst();
    return row === undefined ? undefined : row.deployment_name;
  }
}
