// Instance planning (director-api.md §6.1 step 3): match manifest instances to DB rows by
// group + index (stable uuids), place them in AZs and reserve their network addresses.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { ApplySpec, NetworkSettings } from '../../common/protocol.js';
import type { CloudConfig, CloudConfigNetwork, InstanceGroup, InstanceGroupNetwork } from '../../manifest/types.js';
import { expandIps, firstFreeIp, intToIp, ipToInt, parseCidr, subnetContains, subnetsForAz, unavailableIps } from './ip.js';

type Db = Kysely<Database>;

export interface PlannedVm {
  id: number;
  agentId: string;
  cid: string;
  /** What the VM was created with (null for a VM created by this task). */
  created?: { networksJson: string | null; cloudPropertiesJson: string | null; stemcell: string | null; cpi?: string };
}

export interface PlannedInstance {
  group: InstanceGroup;
  index: number;
  uuid: string;
  az: string | null;
  bootstrap: boolean;
  /** instances.id */
  dbId: number;
  /** The full apply spec last applied, null for an instance never updated. */
  previousSpec: ApplySpec | null;
  updateCompleted: boolean;
  vm: PlannedVm | null;
  networks: Record<string, NetworkSettings>;
}

/** `<ig>/<uuid> (<index>)`, the name every event and error uses for an instance. */
export const instanceName = (i: { group: { name: string }; uuid: string; index: number }) => `${i.group.name}/${i.uuid} (${i.index})`;

/** Serializes IP reservations of this process (compilation workers reserve concurrently). */
let ipLock: Promise<unknown> = Promise.resolve();
export function withIpLock<T>(fn: () => Promise<T>): Promise<T> {
  const run = ipLock.then(fn, fn);
  ipLock = run.catch(() => undefined);
  return run;
}

export async function findOrCreateDeployment(db: Db, name: string): Promise<number> {
  const existing = await db.selectFrom('deployments').select('id').where('name', '=', name).executeTakeFirst();
  if (existing) return existing.id;
  const inserted = await db.insertInto('deployments').values({ name, manifest_text: null, cloud_config_id: null }).returning('id').executeTakeFirstOrThrow();
  return inserted.id;
}

/** Plans every instance of the group, creating DB rows and reserving IPs as needed. */
export async function planInstanceGroup(
  db: Db,
  deploymentId: number,
  group: InstanceGroup,
  cloudConfig: CloudConfig,
  taskId: number,
): Promise<PlannedInstance[]> {
  validateAzs(group, cloudConfig);
  const azs = await balancedAzs(db, deploymentId, group);
  const planned: PlannedInstance[] = [];
  for (let index = 0; index < group.instances; index++) {
    planned.push(await planInstance(db, deploymentId, group, index, azs[index], cloudConfig, taskId));
  }
  return planned;
}

/**
 * The AZ of every index: an existing instance keeps its AZ while the group still lists it; the others
 * go, in index order, to the AZ with the fewest instances (ties: the order of the group's `azs`).
 */
export async function balancedAzs(db: Db, deploymentId: number, group: InstanceGroup): Promise<Array<string | null>> {
  const azs = group.azs ?? [];
  if (azs.length === 0) return Array.from({ length: group.instances }, () => null);
  const rows = await db
    .selectFrom('instances')
    .select(['index', 'availability_zone'])
    .where('deployment_id', '=', deploymentId)
    .where('job', '=', group.name)
    .where('compilation', '=', 0)
    .where('index', '<', group.instances)
    .execute();
  const result: Array<string | null> = Array.from({ length: group.instances }, () => null);
  const counts = new Map(azs.map((az) => [az, 0]));
  for (const row of rows) {
    if (row.availability_zone && counts.has(row.availability_zone)) {
      result[row.index] = row.availability_zone;
      counts.set(row.availability_zone, counts.get(row.availability_zone)! + 1);
    }
  }
  for (let index = 0; index < group.instances; index++) {
    if (result[index] !== null) continue;
    const az = azs.reduce((best, candidate) => (counts.get(candidate)! < counts.get(best)! ? candidate : best));
    result[index] = az;
    counts.set(az, counts.get(az)! + 1);
  }
  return result;
}

function validateAzs(group: InstanceGroup, cloudConfig: CloudConfig): void {
  for (const az of group.azs ?? []) {
    if (!cloudConfig.azs.some((a) => a.name === az)) {
      throw new Error(`Instance group '${group.name}' references unknown availability zone '${az}'`);
    }
  }
  if (!group.azs?.length && cloudConfig.azs.length > 0) {
    throw new Error(`Instance group '${group.name}' must specify availability zones that match availability zones listed in cloud config`);
  }
}

async function planInstance(
  db: Db,
  deploymentId: number,
  group: InstanceGroup,
  index: number,
  az: string | null,
  cloudConfig: CloudConfig,
  taskId: number,
): Promise<PlannedInstance> {
  let row = await db
    .selectFrom('instances')
    .selectAll()
    .where('deployment_id', '=', deploymentId)
    .where('job', '=', group.name)
    .where('index', '=', index)
    .where('compilation', '=', 0)
    .executeTakeFirst();
  if (!row) {
    row = await db
      .insertInto('instances')
      .values({
        deployment_id: deploymentId, job: group.name, index, uuid: randomUUID(), state: 'started', availability_zone: az,
        compilation: 0, bootstrap: index === 0 ? 1 : 0, spec_json: null, update_completed: 0, ignore: 0,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  } else if (row.availability_zone !== az || row.bootstrap !== (index === 0 ? 1 : 0)) {
    await db.updateTable('instances').set({ availability_zone: az, bootstrap: index === 0 ? 1 : 0 }).where('id', '=', row.id).execute();
  }
  const vm = await db
    .selectFrom('vms')
    .select(['id', 'agent_id', 'cid', 'network_spec_json', 'cloud_properties_json', 'stemcell_name', 'stemcell_version', 'cpi'])
    .where('instance_id', '=', row.id)
    .where('active', '=', 1)
    .executeTakeFirst();
  const identity = { group, uuid: row.uuid, index };
  const networks = await reserveNetworks(db, row.id, instanceName(identity), group.networks, index, az, cloudConfig, taskId);
  return {
    group, index, uuid: row.uuid, az, bootstrap: index === 0, dbId: row.id,
    previousSpec: row.spec_json ? (JSON.parse(row.spec_json) as ApplySpec) : null,
    updateCompleted: row.update_completed === 1,
    vm: vm
      ? {
        id: vm.id, agentId: vm.agent_id, cid: vm.cid,
        created: { networksJson: vm.network_spec_json, cloudPropertiesJson: vm.cloud_properties_json, stemcell: `${vm.stemcell_name}/${vm.stemcell_version}`, cpi: vm.cpi },
      }
      : null,
    networks,
  };
}

/**
 * Reserves one address per manual network for the instance (keeping what it already holds when it
 * still fits) and returns the network settings handed to the CPI and the agent (§5.2).
 */
export async function reserveNetworks(
  db: Db,
  instanceId: number,
  name: string,
  groupNetworks: InstanceGroupNetwork[],
  index: number,
  az: string | null,
  cloudConfig: CloudConfig,
  taskId: number,
): Promise<Record<string, NetworkSettings>> {
  const result: Record<string, NetworkSettings> = {};
  for (const groupNetwork of groupNetworks) {
    const network = cloudConfig.networks.find((n) => n.name === groupNetwork.name);
    if (!network) throw new Error(`Instance '${name}' references unknown network '${groupNetwork.name}'`);
    const defaults = groupNetworks.length === 1 ? ['dns', 'gateway'] : [...(groupNetwork.default ?? [])].sort();
    const settings = await networkSettings(db, instanceId, name, groupNetwork, network, index, az, taskId);
    result[network.name] = defaults.length ? { ...settings, default: defaults } : settings;
  }
  return result;
}

async function networkSettings(
  db: Db,
  instanceId: number,
  name: string,
  groupNetwork: InstanceGroupNetwork,
  network: CloudConfigNetwork,
  index: number,
  az: string | null,
  taskId: number,
): Promise<NetworkSettings> {
  if (network.type === 'dynamic') {
    return { type: 'dynamic', dns: network.dns ?? network.subnets[0]?.dns, cloud_properties: network.cloud_properties ?? network.subnets[0]?.cloud_properties ?? {} };
  }
  if (network.type === 'vip') {
    return { type: 'vip', ip: groupNetwork.static_ips?.[index], cloud_properties: network.cloud_properties ?? {} };
  }
  const staticIp = groupNetwork.static_ips ? groupNetwork.static_ips[index] : undefined;
  if (groupNetwork.static_ips && staticIp === undefined) {
    throw new Error(`Instance '${name}' has no static IP left in network '${network.name}'`);
  }
  const ip = await withIpLock(() => reserveManualIp(db, instanceId, name, network, az, staticIp, taskId));
  const subnet = network.subnets.find((s) => subnetContains(s, ip))!;
  const range = parseCidr(subnet.range);
  return {
    type: 'manual', ip: intToIp(ip), netmask: range.netmask, gateway: subnet.gateway, prefix: String(range.prefix),
    dns: subnet.dns, cloud_properties: subnet.cloud_properties ?? {},
  };
}

async function reserveManualIp(
  db: Db,
  instanceId: number,
  name: string,
  network: CloudConfigNetwork,
  az: string | null,
  staticIp: string | undefined,
  taskId: number,
): Promise<number> {
  const subnets = subnetsForAz(network.subnets, az);
  const rows = await db.selectFrom('ip_addresses').selectAll().where('network_name', '=', network.name).execute();
  const own = rows.filter((r) => r.instance_id === instanceId);
  const wanted = staticIp === undefined ? null : ipToInt(staticIp);

  const keep = own.find((r) => {
    const ip = ipToInt(r.address_str);
    return wanted === null ? r.static === 0 && subnets.some((s) => subnetContains(s, ip) && !unavailableIps(s).has(ip)) : ip === wanted;
  });
  const stale = own.filter((r) => r !== keep).map((r) => r.id);
  if (stale.length) await db.deleteFrom('ip_addresses').where('id', 'in', stale).execute();
  if (keep) return ipToInt(keep.address_str);

  const taken = new Set(rows.filter((r) => r.instance_id !== instanceId).map((r) => ipToInt(r.address_str)));
  let ip: number | null;
  if (wanted !== null) {
    if (!subnets.some((s) => expandIps(s.static).includes(wanted))) {
      throw new Error(`Failed to reserve IP '${staticIp}' for instance '${name}': IP belongs to no static range of network '${network.name}'`);
    }
    if (taken.has(wanted)) throw new Error(`Failed to reserve IP '${staticIp}' for instance '${name}': already reserved by another instance`);
    ip = wanted;
  } else {
    ip = null;
    for (const subnet of subnets) {
      ip = firstFreeIp(subnet, taken);
      if (ip !== null) break;
    }
    if (ip === null) throw new Error(`Failed to reserve IP for '${name}' for manual network '${network.name}': no more available`);
  }
  await db
    .insertInto('ip_addresses')
    .values({ network_name: network.name, address_str: intToIp(ip), static: wanted !== null ? 1 : 0, instance_id: instanceId, vm_id: null, task_id: String(taskId), created_at: new Date().toISOString() })
    .execute();
  return ip;
}

export async function releaseInstanceIps(db: Db, instanceId: number): Promise<void> {
  await withIpLock(() => db.deleteFrom('ip_addresses').where('instance_id', '=', instanceId).execute());
}

/** Instances of the deployment that the manifest no longer wants (removed group or scaled down). */
export async function obsoleteInstances(db: Db, deploymentId: number, groups: InstanceGroup[]) {
  const rows = await db.selectFrom('instances').selectAll().where('deployment_id', '=', deploymentId).where('compilation', '=', 0).execute();
  return rows.filter((r) => {
    const group = groups.find((g) => g.name === r.job);
    return !group || r.index >= group.instances;
  });
}
