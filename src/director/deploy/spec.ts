// The two views of an instance the director builds: the template evaluation spec (§7.2) and the
// apply spec sent to the agent (§7.4).
import type { ApplySpec, ApplySpecJob, ApplySpecPackage, NetworkSettings } from '../../common/protocol.js';
import type { DeploymentManifest, InstanceGroup } from '../../manifest/types.js';
import type { RenderedInstance } from '../templates/render.js';
import type { PlannedInstance } from './planner.js';
import type { ResolvedJob } from './releases.js';

export const DNS_DOMAIN_NAME = 'bosh';

export function applySpecJob(group: InstanceGroup, jobs: ResolvedJob[]): ApplySpecJob {
  const first = jobs[0];
  return {
    name: group.name,
    templates: jobs.map((j) => ({ name: j.name, version: j.version, sha1: j.sha1, blobstore_id: j.blobstoreId })),
    ...(first ? { template: first.name, version: first.version, sha1: first.sha1, blobstore_id: first.blobstoreId } : {}),
  };
}

/** The default network's address (the one that carries the default gateway), else the first. */
export function defaultAddress(networks: Record<string, NetworkSettings>): string | undefined {
  const entries = Object.values(networks);
  return (entries.find((n) => n.default?.includes('gateway')) ?? entries[0])?.ip;
}

export function templateSpec(deployment: string, instance: PlannedInstance, jobs: ResolvedJob[]): Record<string, unknown> {
  const { group } = instance;
  const address = defaultAddress(instance.networks);
  const networks = Object.fromEntries(
    Object.entries(instance.networks).map(([name, settings]) => [
      name,
      { ...settings, dns_record_name: `${instance.index}.${group.name}.${name}.${deployment}.${DNS_DOMAIN_NAME}` },
    ]),
  );
  return {
    deployment,
    name: group.name,
    index: instance.index,
    id: instance.uuid,
    az: instance.az,
    bootstrap: instance.bootstrap,
    job: applySpecJob(group, jobs),
    networks,
    properties_need_filtering: true,
    dns_domain_name: DNS_DOMAIN_NAME,
    persistent_disk: group.persistent_disk ?? 0,
    address,
    ip: address,
    links: {},
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep merge where `over` wins (global properties under instance-group properties). */
export function deepMerge(under: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = { ...under };
  for (const [key, value] of Object.entries(over)) {
    result[key] = isPlainObject(value) && isPlainObject(result[key]) ? deepMerge(result[key] as Record<string, unknown>, value) : value;
  }
  return result;
}

/** A job's properties: its own `properties` when given, else global merged with the group's. */
export function jobProperties(manifest: DeploymentManifest, group: InstanceGroup, jobName: string): Record<string, unknown> {
  const job = group.jobs.find((j) => j.name === jobName);
  if (job?.properties) return job.properties;
  return deepMerge(manifest.properties ?? {}, group.properties ?? {});
}

export function buildApplySpec(
  deployment: string,
  instance: PlannedInstance,
  jobs: ResolvedJob[],
  packages: Record<string, ApplySpecPackage>,
  rendered: RenderedInstance,
  archive: { blobstore_id: string; sha1: string },
): ApplySpec {
  const { group } = instance;
  return {
    deployment,
    job: applySpecJob(group, jobs),
    index: instance.index,
    name: group.name,
    id: instance.uuid,
    az: instance.az,
    networks: instance.networks,
    packages,
    dns_domain_name: DNS_DOMAIN_NAME,
    configuration_hash: rendered.configurationHash,
    persistent_disk: group.persistent_disk ?? 0,
    template_hashes: rendered.templateHashes,
    rendered_templates_archive: archive,
  };
}

/** Whether the agent must be given the new spec (anything it acts on changed). */
export function specChanged(previous: ApplySpec | null, next: ApplySpec): boolean {
  if (!previous) return true;
  const view = (s: ApplySpec) => JSON.stringify([s.configuration_hash, s.packages, s.networks, s.job, s.az, s.persistent_disk]);
  return view(previous) !== view(next);
}
