// Links (director-api.md §7.2): jobs provide links (job.MF `provides`) that other jobs consume
// (`consumes`). A consumer is wired to the one provider of its type in the deployment (implicit), or
// to the provider named by `from` in the manifest (the provider's `as` alias or its link name), or to a
// `shared: true` provider of another deployment (`deployment: <name>`). The link content handed to
// templates holds the provider's properties (those listed in job.MF), its instances and an address.
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { JobManifest } from '../../release/types.js';
import type { InstanceGroup } from '../../manifest/types.js';
import { filterJobProperties, lookupDotted, nestErrors } from '../templates/render.js';

type Db = Kysely<Database>;

export interface LinkInstance {
  name: string;
  id: string;
  index: number;
  az: string | null;
  address: string | null;
  bootstrap: boolean;
}

/** What a consuming template sees through link("name"). */
export interface LinkContent {
  deployment_name: string;
  instance_group: string;
  job: string;
  type: string;
  /** Without DNS, the address of the group is its bootstrap instance's address. */
  address: string | null;
  properties: Record<string, unknown>;
  instances: LinkInstance[];
}

/** A provided link: who provides it, under which alias, and the content consumers get. */
export interface LinkProvider {
  alias: string;
  name: string;
  type: string;
  shared: boolean;
  instanceGroup: string;
  job: string;
  content: LinkContent;
}

/** A job of an instance group as link resolution sees it. */
export interface LinkJob {
  group: InstanceGroup;
  name: string;
  manifest: JobManifest;
  properties: Record<string, unknown>;
  instances: LinkInstance[];
}

interface ProvidesOverride {
  as?: string;
  shared?: boolean;
}

interface ConsumesOverride {
  from?: string;
  deployment?: string;
}

function manifestJob(group: InstanceGroup, jobName: string) {
  return group.jobs.find((j) => j.name === jobName);
}

/** Manifest `provides: {name: nil}` / `consumes: {name: nil}` (or "nil") switches a link off. */
function blocked(section: Record<string, unknown> | undefined, name: string): boolean {
  return section !== undefined && name in section && (section[name] === null || section[name] === 'nil');
}

function override<T>(section: Record<string, unknown> | undefined, name: string): T {
  const value = section?.[name];
  return (typeof value === 'object' && value !== null ? value : {}) as T;
}

/** The links every job of the deployment provides. */
export function linkProviders(deployment: string, jobs: LinkJob[]): LinkProvider[] {
  const providers: LinkProvider[] = [];
  for (const job of jobs) {
    const provides = manifestJob(job.group, job.name)?.provides;
    for (const provided of job.manifest.provides ?? []) {
      if (blocked(provides, provided.name)) continue;
      const over = override<ProvidesOverride>(provides, provided.name);
      const filtered = filterJobProperties(job.manifest, job.properties);
      const properties: Record<string, unknown> = {};
      for (const name of provided.properties ?? []) setDotted(properties, name, lookupDotted(filtered, name) ?? null);
      const bootstrap = job.instances.find((i) => i.bootstrap) ?? job.instances[0];
      providers.push({
        alias: over.as ?? provided.name, name: provided.name, type: provided.type, shared: over.shared === true,
        instanceGroup: job.group.name, job: job.name,
        content: {
          deployment_name: deployment, instance_group: job.group.name, job: job.name, type: provided.type,
          address: bootstrap?.address ?? null, properties, instances: job.instances,
        },
      });
    }
  }
  return providers;
}

function setDotted(target: Record<string, unknown>, name: string, value: unknown): void {
  const keys = name.split('.');
  let current = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof current[key] !== 'object' || current[key] === null) current[key] = {};
    current = current[key] as Record<string, unknown>;
  }
  current[keys[keys.length - 1]] = value;
}

export type SharedLinkLookup = (deployment: string) => Promise<LinkProvider[]>;

/**
 * Resolves every consumed link of every job: `{<group>: {<job>: {<link name>: content}}}`. All
 * failures are reported together, as BOSH does.
 */
export async function resolveLinks(
  deployment: string,
  jobs: LinkJob[],
  providers: LinkProvider[],
  shared: SharedLinkLookup,
): Promise<Map<string, Record<string, LinkContent>>> {
  const resolved = new Map<string, Record<string, LinkContent>>();
  const errors: string[] = [];
  for (const job of jobs) {
    const consumes = manifestJob(job.group, job.name)?.consumes;
    const links: Record<string, LinkContent> = {};
    for (const consumed of job.manifest.consumes ?? []) {
      if (blocked(consumes, consumed.name)) continue;
      const over = override<ConsumesOverride>(consumes, consumed.name);
      const from = over.from ?? null;
      const pool = over.deployment && over.deployment !== deployment ? (await shared(over.deployment)).filter((p) => p.shared) : providers;
      const candidates = pool.filter((p) => p.type === consumed.type && (from === null || p.alias === from));
      const what = `Failed to resolve link '${consumed.name}' with type '${consumed.type}' from job '${job.name}' in instance group '${job.group.name}'`;
      if (candidates.length === 1) {
        links[consumed.name] = candidates[0].content;
      } else if (candidates.length > 1) {
        const list = candidates
          .map((c) => `    - Link provider '${c.alias}' from job '${c.job}' in instance group '${c.instanceGroup}' in deployment '${c.content.deployment_name}'`)
          .sort();
        errors.push(`${what}. Details below:\n  - Multiple link providers found:\n${list.join('\n')}`);
      } else if (from !== null || !consumed.optional) {
        const detail = from !== null ? `No link providers found with alias '${from}'` : 'No link providers found';
        errors.push(`${what}. Details below:\n  - ${detail}${over.deployment ? ` in deployment '${over.deployment}'` : ''}`);
      }
    }
    resolved.set(linkKey(job.group.name, job.name), links);
  }
  if (errors.length) throw new Error(nestErrors(`Failed to resolve links from deployment '${deployment}'`, errors));
  return resolved;
}

export const linkKey = (group: string, job: string) => `${group}/${job}`;

/** Remembers the deployment's providers so other deployments can consume its shared links. */
export async function saveLinkProviders(db: Db, deploymentId: number, providers: LinkProvider[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('link_providers').where('deployment_id', '=', deploymentId).execute();
    for (const p of providers) {
      await trx
        .insertInto('link_providers')
        .values({
          deployment_id: deploymentId, instance_group: p.instanceGroup, job: p.job, name: p.name, alias: p.alias, type: p.type,
          shared: p.shared ? 1 : 0, content_json: JSON.stringify(p.content),
        })
        .execute();
    }
  });
}

/** Shared providers of another deployment, as it stored them at its last successful deploy. */
export function sharedLinkLookup(db: Db): SharedLinkLookup {
  return async (deployment) => {
    const rows = await db
      .selectFrom('link_providers')
      .innerJoin('deployments', 'deployments.id', 'link_providers.deployment_id')
      .selectAll('link_providers')
      .where('deployments.name', '=', deployment)
      .execute();
    return rows.map((r) => ({
      alias: r.alias, name: r.name, type: r.type, shared: r.shared === 1, instanceGroup: r.instance_group, job: r.job,
      content: JSON.parse(r.content_json) as LinkContent,
    }));
  };
}
