// Polls the director for deployments and their instances (and the resurrection configs) and
// keeps the registry in step. A failed poll raises the documented severity-3 alert; the first
// poll that succeeds after failures gives every agent a fresh grace period, since nothing was
// analysed while the director was away.
import type { Logger } from '../common/logging.js';
import type { AgentRegistry, Deployment, DirectorInstance } from './agents.js';
import type { DirectorClient } from './director-client.js';
import type { AlertAttributes } from './events/alert.js';
import type { ResurrectionRules } from './resurrection-config.js';

interface DeploymentRow {
  name: string;
  teams?: string[];
  locked?: boolean;
}

export class DirectorPoller {
  /** The first full sync finished: the HTTP counts may be served. */
  synced = false;
  /** The director could not be reached on the last poll. */
  unreachable = false;
  private polling = false;

  constructor(
    private readonly director: DirectorClient,
    private readonly registry: AgentRegistry,
    private readonly logger: Logger,
    private readonly emitAlert: (attrs: AlertAttributes) => void,
    private readonly onRecovered: () => void,
  ) {}

  async poll(): Promise<void> {
    if (this.polling) return; // a slow director: never stack polls
    this.polling = true;
    try {
      const deployments = await this.fetchDeployments();
      const removed = this.registry.syncDeployments(deployments, Date.now());
      if (removed.length) this.logger.info(`Removed ${removed.length} agent(s) no longer in any deployment`);
      if (this.unreachable) {
        this.logger.info('Director reachable again: every agent gets a fresh grace period');
        this.onRecovered();
      }
      this.unreachable = false;
      this.synced = true;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.unreachable = true;
      this.logger.error(`Health monitor failed to connect to director: ${message}`);
      this.emitAlert({
        severity: 3,
        source: 'hm',
        title: 'Health monitor failed to connect to director',
        summary: message,
        created_at: Math.floor(Date.now() / 1000),
      });
    } finally {
      this.polling = false;
    }
  }

  private async fetchDeployments(): Promise<Deployment[]> {
    const rows = await this.director.getJson<DeploymentRow[]>('/deployments?exclude_configs=true&exclude_releases=true&exclude_stemcells=true');
    const deployments: Deployment[] = [];
    for (const row of rows) {
      const instances = await this.director.getJson<DirectorInstance[]>(`/deployments/${encodeURIComponent(row.name)}/instances`);
      deployments.push({ name: row.name, teams: row.teams ?? [], locked: row.locked === true, instances });
    }
    return deployments;
  }

  /** `GET /configs?type=resurrection&latest=true`; failures keep the previous rules. */
  async pollResurrectionConfig(rules: ResurrectionRules): Promise<void> {
    try {
      const configs = await this.director.getJson<{ content: string }[]>('/configs?type=resurrection&latest=true');
      if (rules.update(configs.map((c) => c.content))) this.logger.info(`Resurrection config updated (${configs.length} config(s))`);
    } catch (err) {
      this.logger.warn(`Could not fetch resurrection config: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
