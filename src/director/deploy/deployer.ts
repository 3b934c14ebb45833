// The steps of a deploy (director-api.md §6.1), shared by update_deployment and run_errand:
// prepare (resolve + plan), render, compile, create missing VMs, persist templates, update instances.
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { ApplySpecPackage } from '../../common/protocol.js';
import { fileDigest } from '../../common/digest.js';
import { parseCloudConfig, parseDeploymentManifest } from '../../manifest/index.js';
import type { CloudConfig, DeploymentManifest, InstanceGroup } from '../../manifest/types.js';
import type { Director, TaskContext } from '../context.js';
import { renderInstance, nestErrors, type RenderedInstance, type JobSource } from '../templates/render.js';
import { writeRenderedArchive } from '../templates/archive.js';
import { sharedTemplateWorker } from '../templates/ruby-worker.js';
import { instanceCloudProperties } from './cloud-properties.js';
import { compilePackages, compiledKey, type PackageNeed } from './compiler.js';
import { inParallel, type InstanceUpdate } from './instance-updater.js';
import { findOrCreateDeployment, instanceName, planInstanceGroup, type PlannedInstance } from './planner.js';
import { linkKey, linkProviders, resolveLinks, saveLinkProviders, sharedLinkLookup, type LinkContent, type LinkInstance, type LinkJob, type LinkProvider } from './links.js';
import { fetchJobSource, resolveRelease, resolveStemcell, type ResolvedJob, type ResolvedRelease, type ResolvedStemcell } from './releases.js';
import { applySpecJob, buildApplySpec, defaultAddress, jobProperties, specChanged, templateSpec } from './spec.js';
import { createVm, deleteVm, type VmRequest } from './vm-creator.js';
import { desiredDisk, detachInstanceDisks, diskNeedsUpdate, updatePersistentDisk } from './disk-manager.js';
import { azCpiName, cpiRegistry } from '../cpis.js';
import { agentSettingsMaterial, settingsChanges, updateAgentSettings, usesDirectorBlobstore, vmSettingsSha1s } from './agent-settings.js';

const MAX_VM_CREATE_THREADS = 32;
const PERSIST_TEMPLATES_THREADS = 8;

export interface PlannedGroup {
  group: InstanceGroup;
  stemcell: ResolvedStemcell;
  jobs: ResolvedJob[];
  instances: PlannedInstance[];
}

export interface DeploymentPlan {
  name: string;
  deploymentId: number;
  manifest: DeploymentManifest;
  manifestText: string;
  cloudConfig: CloudConfig;
  cloudConfigId: number;
  releases: ResolvedRelease[];
  stemcells: ResolvedStemcell[];
  groups: PlannedGroup[];
  /** Links the deployment provides (saved for other deployments after a successful deploy). */
  providers: LinkProvider[];
  /** Consumed links per `<group>/<job>` (links.ts linkKey). */
  links: Map<string, Record<string, LinkContent>>;
}

export async function latestCloudConfig(director: Director): Promise<{ id: number; config: CloudConfig }> {
  const row = await director.db
    .selectFrom('configs')
    .selectAll()
    .where('type', '=', 'cloud')
    .where('deleted', '=', 0)
    .orderBy('id', 'desc')
    .executeTakeFirst();
  if (!row) throw new Error('No cloud config uploaded yet: upload one with `capstan update-cloud-config`');
  return { id: row.id, config: parseCloudConfig(row.content, `cloud-config (id ${row.id})`) };
}

export function parseManifestFor(deploymentName: string, manifestText: string): DeploymentManifest {
  const manifest = parseDeploymentManifest(manifestText, 'deployment manifest');
  if (manifest.name !== deploymentName) {
    throw new Error(`Deployment manifest name '${manifest.name}' does not match deployment '${deploymentName}'`);
  }
  return manifest;
}

/** Resolves releases/stemcells/jobs and plans the chosen instance groups (DB rows, IPs). */
export async function planDeployment(
  director: Director,
  task: TaskContext,
  manifest: DeploymentManifest,
  manifestText: string,
  chooseGroups: (g: InstanceGroup) => boolean,
): Promise<DeploymentPlan> {
  const { id: cloudConfigId, config: cloudConfig } = await latestCloudConfig(director);
  await cpiRegistry(director).validateAzs(cloudConfig, usedAzs(manifest, cloudConfig, chooseGroups));
  const deploymentId = await findOrCreateDeployment(director.db, manifest.name);
  const releases = await Promise.all(manifest.releases.map((r) => resolveRelease(director.db, r)));
  const stemcellsByAlias = new Map<string, ResolvedStemcell>();
  for (const s of manifest.stemcells) stemcellsByAlias.set(s.alias, await resolveStemcell(director.db, s, director.cpiName));
  const groups: PlannedGroup[] = [];
  for (const group of manifest.instance_groups.filter(chooseGroups)) {
    const jobs = resolveGroupJobs(group, releases);
    const instances = await planInstanceGroup(director.db, deploymentId, group, cloudConfig, task.taskId);
    groups.push({ group, stemcell: stemcellsByAlias.get(group.stemcell)!, jobs, instances });
  }
  const linkJobs = await collectLinkJobs(director, manifest, deploymentId, releases, groups);
  const providers = linkProviders(manifest.name, linkJobs);
  const links = await resolveLinks(manifest.name, linkJobs.filter((j) => groups.some((g) => g.group === j.group)), providers, sharedLinkLookup(director.db));
  return {
    name: manifest.name, deploymentId, manifest, manifestText, cloudConfig, cloudConfigId, releases,
    stemcells: [...new Map([...stemcellsByAlias.values()].map((s) => [s.id, s])).values()], groups, providers, links,
  };
}

/** The AZs the chosen instance groups and the compilation VMs use. */
function usedAzs(manifest: DeploymentManifest, cloudConfig: CloudConfig, chooseGroups: (g: InstanceGroup) => boolean): string[] {
  const azs = manifest.instance_groups.filter(chooseGroups).flatMap((g) => g.azs ?? []);
  return cloudConfig.compilation.az ? [...azs, cloudConfig.compilation.az] : azs;
}

function resolveGroupJobs(group: InstanceGroup, releases: ResolvedRelease[]): ResolvedJob[] {
  return group.jobs.map((job) => {
    const release = releases.find((r) => r.name === job.release)!;
    const resolved = release.jobs.get(job.name);
    if (!resolved) throw new Error(`Job '${job.name}' not found in release '${release.name}/${release.version}'`);
    return resolved;
  });
}

/**
 * Every job of the manifest with the instances it runs on, for link resolution: planned groups use
 * their planned instances; groups not planned by this task (errand runs) their DB rows.
 */
async function collectLinkJobs(director: Director, manifest: DeploymentManifest, deploymentId: number, releases: ResolvedRelease[], planned: PlannedGroup[]): Promise<LinkJob[]> {
  const result: LinkJob[] = [];
  for (const group of manifest.instance_groups) {
    const plannedGroup = planned.find((g) => g.group === group);
    const instances = plannedGroup
      ? plannedGroup.instances.map((i): LinkInstance => ({ name: group.name, id: i.uuid, index: i.index, az: i.az, address: defaultAddress(i.networks) ?? null, bootstrap: i.bootstrap }))
      : await storedLinkInstances(director, deploymentId, group);
    for (const job of resolveGroupJobs(group, releases)) {
      result.push({ group, name: job.name, manifest: job.manifest, properties: jobProperties(manifest, group, job.name), instances });
    }
  }
  return result;
}

async function storedLinkInstances(director: Director, deploymentId: number, group: InstanceGroup): Promise<LinkInstance[]> {
  const rows = await director.db
    .selectFrom('instances')
    .selectAll()
    .where('deployment_id', '=', deploymentId)
    .where('job', '=', group.name)
    .where('compilation', '=', 0)
    .where('index', '<', group.instances)
    .orderBy('index')
    .execute();
  const ips = await director.db.selectFrom('ip_addresses').select(['instance_id', 'address_str']).where('instance_id', 'in', [0, ...rows.map((r) => r.id)]).execute();
  return rows.map((r) => ({
    name: group.name, id: r.uuid, index: r.index, az: r.availability_zone, bootstrap: r.bootstrap === 1,
    address: ips.find((ip) => ip.instance_id === r.id)?.address_str ?? null,
  }));
}

/** Renders every instance of every planned group; errors are aggregated per deployment (§6.1 step 4). */
export async function renderPlan(director: Director, plan: DeploymentPlan): Promise<Map<number, RenderedInstance>> {
  const worker = sharedTemplateWorker();
  const sources = new Map<number, JobSource>();
  for (const { jobs } of plan.groups) {
    for (const job of jobs) if (!sources.has(job.templateId)) sources.set(job.templateId, await fetchJobSource(director, job));
  }
  const rendered = new Map<number, RenderedInstance>();
  const errors: string[] = [];
  for (const { group, jobs, instances } of plan.groups) {
    for (const instance of instances) {
      const instanceJobs = jobs.map((job) => ({
        source: sources.get(job.templateId)!,
        properties: jobProperties(plan.manifest, group, job.name),
        links: plan.links.get(linkKey(group.name, job.name)) ?? {},
      }));
      try {
        const persistentDisk = desiredDisk(group, plan.cloudConfig)?.size ?? 0;
        rendered.set(instance.dbId, await renderInstance(worker, group.name, instanceJobs, { ...templateSpec(plan.name, instance, jobs), persistent_disk: persistentDisk }));
      } catch (err) {
        if (!errors.includes((err as Error).message)) errors.push((err as Error).message);
      }
    }
  }
  if (errors.length) throw new Error(nestErrors('Unable to render instance groups for deployment', errors));
  return rendered;
}

export function packageNeeds(plan: DeploymentPlan): PackageNeed[] {
  return plan.groups.flatMap(({ jobs, stemcell }) =>
    jobs.map((job) => ({ release: plan.releases.find((r) => r.name === job.release.name)!, stemcell, packageNames: job.manifest.packages })),
  );
}

/** Compiled packages for the group's jobs, as the apply spec lists them (job packages only). */
export function groupPackages(plan: DeploymentPlan, planned: PlannedGroup, compiled: Map<string, ApplySpecPackage>): Record<string, ApplySpecPackage> {
  const packages: Record<string, ApplySpecPackage> = {};
  for (const job of planned.jobs) {
    const release = plan.releases.find((r) => r.name === job.release.name)!;
    for (const name of job.manifest.packages) packages[name] = compiled.get(compiledKey(planned.stemcell.id, release.packages.get(name)!.id))!;
  }
  return packages;
}

export async function compilePlan(director: Director, task: TaskContext, plan: DeploymentPlan) {
  return compilePackages(director, task, packageNeeds(plan), { deployment: plan.name, deploymentId: plan.deploymentId, cloudConfig: plan.cloudConfig });
}

/** Stage "Creating missing vms": one VM per instance that has none (§6.3). */
export async function createMissingVms(director: Director, task: TaskContext, plan: DeploymentPlan): Promise<void> {
  const missing = plan.groups.flatMap((g) => g.instances.filter((i) => !i.vm).map((instance) => ({ planned: g, instance })));
  if (missing.length === 0) return;
  const stage = task.events.beginStage('Creating missing vms', missing.length);
  await inParallel(missing, MAX_VM_CREATE_THREADS, async ({ planned, instance }) => {
    await stage.track(instanceName(instance), async () => {
      instance.vm = await createVm(director, vmRequest(plan, planned, instance));
      instance.updateCompleted = false;
      instance.previousSpec = null; // nothing runs on a new VM: no drain/stop before the first apply
    });
  }, () => task.checkpoint());
}

function vmRequest(plan: DeploymentPlan, planned: PlannedGroup, instance: PlannedInstance): VmRequest {
  return {
    deployment: plan.name, instanceId: instance.dbId, instanceGroup: planned.group.name, instanceUuid: instance.uuid,
    index: instance.index, stemcell: planned.stemcell,
    cloudProperties: instanceCloudProperties(plan.cloudConfig, planned.group, instance.az),
    cpi: azCpiName(plan.cloudConfig, instance.az),
    networks: instance.networks, env: planned.group.env ?? {}, job: applySpecJob(planned.group, planned.jobs),
  };
}

/** A VM made with another stemcell, other networks or other cloud properties must be replaced. */
function vmObsolete(director: Director, plan: DeploymentPlan, planned: PlannedGroup, instance: PlannedInstance): boolean {
  const created = instance.vm?.created;
  if (!created) return false;
  const wanted = vmRequest(plan, planned, instance);
  return created.networksJson !== JSON.stringify(wanted.networks)
    || created.cloudPropertiesJson !== JSON.stringify(wanted.cloudProperties)
    || created.stemcell !== `${wanted.stemcell.name}/${wanted.stemcell.version}`
    || (created.cpi !== undefined && cpiRegistry(director).currentName(created.cpi) !== wanted.cpi); // the AZ now maps to another CPI
}

/** Uploads the rendered archive unless the instance's latest one has the same content (§7.3). */
export async function persistRenderedTemplates(director: Director, instanceId: number, rendered: RenderedInstance) {
  const latest = await director.db
    .selectFrom('rendered_templates_archives')
    .selectAll()
    .where('instance_id', '=', instanceId)
    .orderBy('id', 'desc')
    .executeTakeFirst();
  if (latest && latest.content_sha1 === rendered.configurationHash && (await director.blobstore.exists(latest.blobstore_id))) {
    return { blobstore_id: latest.blobstore_id, sha1: latest.sha1 };
  }
  const dir = await mkdtemp(join(tmpdir(), 'capstan-rendered-'));
  try {
    const file = join(dir, 'rendered.tgz');
    await writeRenderedArchive(rendered.jobs, file);
    const sha1 = await fileDigest(file);
    const blobstoreId = await director.blobstore.put(file);
    await director.db
      .insertInto('rendered_templates_archives')
      .values({ instance_id: instanceId, blobstore_id: blobstoreId, sha1, content_sha1: rendered.configurationHash, created_at: new Date().toISOString() })
      .execute();
    return { blobstore_id: blobstoreId, sha1 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Deletes every rendered archive of the instance except the one in use (blob and row). */
export async function cleanupRenderedTemplates(director: Director, instanceId: number, keepBlobstoreId: string | null): Promise<void> {
  const rows = await director.db.selectFrom('rendered_templates_archives').selectAll().where('instance_id', '=', instanceId).execute();
  for (const row of rows.filter((r) => r.blobstore_id !== keepBlobstoreId)) {
    await director.blobstore.delete(row.blobstore_id).catch(() => undefined);
    await director.db.deleteFrom('rendered_templates_archives').where('id', '=', row.id).execute();
  }
}

/** What a deploy does to an instance (director-api.md §6.1 "changes"). */
export type InstanceChange = 'nothing' | 'new' | 'restart' | 'recreate';

export interface InstanceUpdateOptions {
  /** `--recreate`: replace every VM. */
  recreate?: boolean;
  /** `--skip-drain` for this instance (`*`, `<ig>` or `<ig>/<uuid>`). */
  skipDrain?: (group: string, uuid: string) => boolean;
  /** Told what happens to each instance (the task's debug log). */
  onPlanned?: (name: string, change: InstanceChange) => void;
  /** `--recreate-persistent-disks`: every disk is replaced by a new one (data migrated). */
  recreatePersistentDisks?: boolean;
}

/** The instance updates a group needs: only instances whose spec changed or never finished updating. */
export async function instanceUpdates(
  director: Director,
  plan: DeploymentPlan,
  planned: PlannedGroup,
  rendered: Map<number, RenderedInstance>,
  compiled: Map<string, ApplySpecPackage>,
  start: boolean,
  options: InstanceUpdateOptions = {},
): Promise<InstanceUpdate[]> {
  const packages = groupPackages(plan, planned, compiled);
  const disk = desiredDisk(planned.group, plan.cloudConfig);
  const updates: InstanceUpdate[] = [];
  // tar + digest + blobstore put per instance: several at a time (100 instances one by one took 6 s)
  const archives = new Map<number, Awaited<ReturnType<typeof persistRenderedTemplates>>>();
  await inParallel(planned.instances, PERSIST_TEMPLATES_THREADS, async (instance) => {
    archives.set(instance.dbId, await persistRenderedTemplates(director, instance.dbId, rendered.get(instance.dbId)!));
  });
  const agentSettings = await agentSettingsMaterial(director);
  const vmSettings = await vmSettingsSha1s(director.db, planned.instances.flatMap((i) => (i.vm ? [i.vm.id] : [])));
  for (const instance of planned.instances) {
    const instanceRendered = rendered.get(instance.dbId)!;
    const archive = archives.get(instance.dbId)!;
    const spec = { ...buildApplySpec(plan.name, instance, planned.jobs, packages, instanceRendered, archive), persistent_disk: disk?.size ?? 0 };
    const recreate = (options.recreate === true && instance.previousSpec !== null) || vmObsolete(director, plan, planned, instance);
    const diskChanging = await diskNeedsUpdate(director.db, instance.dbId, disk, options.recreatePersistentDisks === true);
    // a kept VM whose agent has older trusted certs / NATS / blobstore settings gets update_settings
    const vmSha1s = instance.vm ? vmSettings.get(instance.vm.id) : undefined;
    const settings = recreate || !vmSha1s ? [] : settingsChanges(vmSha1s, agentSettings, usesDirectorBlobstore(planned.group.env));
    const change: InstanceChange = instance.previousSpec === null ? 'new'
      : recreate ? 'recreate'
      : !instance.updateCompleted || specChanged(instance.previousSpec, spec) || diskChanging || settings.length > 0 ? 'restart' : 'nothing';
    options.onPlanned?.(instanceName(instance), change);
    if (change === 'nothing') continue;
    updates.push({
      name: instanceName(instance), agentId: instance.vm!.agentId, spec, hasRunningJobs: instance.previousSpec !== null, start,
      skipDrain: options.skipDrain?.(planned.group.name, instance.uuid) ?? false,
      ...(recreate ? { recreateVm: () => recreateVm(director, plan, planned, instance) } : {}),
      ...(settings.length > 0 ? { updateSettings: () => updateAgentSettings(director, { id: instance.vm!.id, agentId: instance.vm!.agentId, instanceId: instance.dbId }, settings, agentSettings) } : {}),
      diskChanging,
      updateDisks: () => updatePersistentDisk(
        director, instance.dbId, { deployment: plan.name, instanceName: `${planned.group.name}/${instance.uuid}`, az: instance.az },
        instance.vm!, disk, { recreate: options.recreatePersistentDisks },
      ),
    });
  }
  return updates;
}

async function recreateVm(director: Director, plan: DeploymentPlan, planned: PlannedGroup, instance: PlannedInstance): Promise<string> {
  await detachInstanceDisks(director, instance.dbId, instance.vm!, true); // the disk goes to the new VM
  await deleteVm(director, instance.vm!);
  instance.vm = null;
  instance.vm = await createVm(director, vmRequest(plan, planned, instance));
  return instance.vm.agentId;
}

/** Records a finished instance update: the spec the agent now has. */
export async function recordInstanceUpdate(director: Director, plan: DeploymentPlan, update: InstanceUpdate): Promise<void> {
  await director.db
    .updateTable('instances')
    // an instance whose jobs were not started (stopped by the operator, an errand) keeps its state
    .set({ spec_json: JSON.stringify(update.spec), update_completed: 1, ...(update.start ? { state: 'started' } : {}) })
    .where('deployment_id', '=', plan.deploymentId)
    .where('uuid', '=', update.spec.id)
    .execute();
  const instance = await director.db.selectFrom('instances').select('id').where('uuid', '=', update.spec.id).executeTakeFirst();
  if (instance) await cleanupRenderedTemplates(director, instance.id, update.spec.rendered_templates_archive?.blobstore_id ?? null);
}

/** Persists manifest, cloud config, releases and stemcells of a successful deploy. */
export async function saveDeployment(director: Director, plan: DeploymentPlan): Promise<void> {
  await director.db.transaction().execute(async (trx) => {
    await trx.updateTable('deployments').set({ manifest_text: plan.manifestText, cloud_config_id: plan.cloudConfigId }).where('id', '=', plan.deploymentId).execute();
    await trx.deleteFrom('deployments_release_versions').where('deployment_id', '=', plan.deploymentId).execute();
    for (const r of plan.releases) {
      await trx.insertInto('deployments_release_versions').values({ deployment_id: plan.deploymentId, release_version_id: r.versionId }).execute();
    }
    await trx.deleteFrom('deployments_stemcells').where('deployment_id', '=', plan.deploymentId).execute();
    for (const s of plan.stemcells) {
      await trx.insertInto('deployments_stemcells').values({ deployment_id: plan.deploymentId, stemcell_id: s.id }).execute();
    }
  });
  await saveLinkProviders(director.db, plan.deploymentId, plan.providers);
}
