// Runtime config (director-api.md §5.3) and addons: jobs the director adds to every instance group an
// addon's `include` rules select and its `exclude` rules do not. Deployment manifests may carry the same
// `addons` section. A rule matches when every criterion it names matches (a list matches any entry).
import { z } from 'zod';
import type { DeploymentManifest, InstanceGroup, InstanceGroupJob, ManifestRelease } from './types.js';
import { str } from './schemas.js';
import { parseYamlMapping, validateAt } from './validate.js';

const record = z.record(z.string(), z.unknown());
const names = z.array(str);

const rule = z.object({
  deployments: names.optional(),
  jobs: z.array(z.object({ name: str, release: str })).optional(),
  instance_groups: names.optional(),
  stemcell: z.array(z.object({ os: str })).optional(),
  networks: names.optional(),
  azs: names.optional(),
  lifecycle: z.enum(['service', 'errand']).optional(),
});

export const addonSchema = z.object({
  name: str,
  jobs: z.array(z.object({ name: str, release: str, properties: record.optional() })).default([]),
  properties: record.optional(),
  include: rule.optional(),
  exclude: rule.optional(),
});

const runtimeConfigSchema = z.object({
  releases: z.array(z.object({ name: str, version: str, url: z.string().optional(), sha1: z.string().optional() })).default([]),
  addons: z.array(addonSchema).default([]),
});

export type AddonRule = z.infer<typeof rule>;
export type Addon = z.infer<typeof addonSchema>;
export interface RuntimeConfig {
  releases: ManifestRelease[];
  addons: Addon[];
}

export function parseRuntimeConfig(text: string, file: string): RuntimeConfig {
  return validateAt(runtimeConfigSchema, parseYamlMapping(text, file), file);
}

function intersects(wanted: string[] | undefined, actual: string[]): boolean {
  return wanted === undefined || wanted.some((w) => actual.includes(w));
}

/** Whether an addon rule selects the instance group of the deployment. */
export function ruleMatches(r: AddonRule, manifest: DeploymentManifest, group: InstanceGroup): boolean {
  const os = manifest.stemcells.find((s) => s.alias === group.stemcell)?.os;
  return intersects(r.deployments, [manifest.name])
    && intersects(r.instance_groups, [group.name])
    && (r.jobs === undefined || r.jobs.some((j) => group.jobs.some((g) => g.name === j.name && g.release === j.release)))
    && (r.stemcell === undefined || r.stemcell.some((s) => s.os === os))
    && intersects(r.networks, group.networks.map((n) => n.name))
    && intersects(r.azs, group.azs ?? [])
    && (r.lifecycle === undefined || r.lifecycle === group.lifecycle);
}

function isEmpty(r: AddonRule | undefined): boolean {
  return r === undefined || Object.values(r).every((v) => v === undefined);
}

/**
 * The manifest with the addons' jobs added to the groups they select and the runtime configs' releases
 * added to its releases. A release named twice with different versions is an error.
 */
export function applyAddons(manifest: DeploymentManifest, configs: RuntimeConfig[], manifestAddons: Addon[] = []): DeploymentManifest {
  const releases = [...manifest.releases];
  for (const release of configs.flatMap((c) => c.releases)) {
    const existing = releases.find((r) => r.name === release.name);
    if (!existing) releases.push(release);
    else if (String(existing.version) !== String(release.version)) {
      throw new Error(`Runtime config release '${release.name}/${release.version}' conflicts with '${existing.name}/${existing.version}' of the deployment`);
    }
  }
  const addons = [...configs.flatMap((c) => c.addons), ...manifestAddons];
  const groups = manifest.instance_groups.map((group) => {
    const jobs: InstanceGroupJob[] = [...group.jobs];
    for (const addon of addons) {
      const included = isEmpty(addon.include) || ruleMatches(addon.include!, manifest, group);
      const excluded = !isEmpty(addon.exclude) && ruleMatches(addon.exclude!, manifest, group);
      if (!included || excluded) continue;
      for (const job of addon.jobs) {
        if (!releases.some((r) => r.name === job.release)) throw new Error(`Addon '${addon.name}' job '${job.name}' references an unknown release '${job.release}'`);
        if (jobs.some((j) => j.name === job.name)) throw new Error(`Addon '${addon.name}' adds job '${job.name}' to instance group '${group.name}', which already has a job of that name`);
        const properties = job.properties ?? addon.properties;
        jobs.push({ name: job.name, release: job.release, ...(properties ? { properties } : {}) });
      }
    }
    return { ...group, jobs };
  });
  return { ...manifest, releases, instance_groups: groups };
}
