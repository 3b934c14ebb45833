// zod schemas for the deployment manifest and cloud config (director-api.md §5), with BOSH's defaults.
import { z } from 'zod';
import type { WatchTime } from './types.js';

/** "String" fields accept numbers, which are stringified (a version written as 1.2). */
export const str = z.union([z.string(), z.number()], { error: 'Expected a string' }).transform(String);
const record = z.record(z.string(), z.unknown());
const stringList = z.array(str);

/** A watch time in ms: an integer (min = max) or "min-max". */
const WATCH_TIME = "Expected milliseconds as an integer or a 'min-max' range";
export const watchTime = z
  .union([z.number().int(WATCH_TIME).nonnegative(WATCH_TIME), z.string().regex(/^\s*\d+\s*(-\s*\d+\s*)?$/, WATCH_TIME)], {
    error: WATCH_TIME,
  })
  .transform((v): WatchTime => {
    if (typeof v === 'number') return { min: v, max: v };
    const [min, max] = v.split('-').map((part) => Number(part.trim()));
    return { min, max: max ?? min };
  })
  .refine((w) => w.min <= w.max, 'Watch time minimum is larger than its maximum');

const COUNT_OR_PERCENT = "Expected a positive integer or a percentage like '50%'";
const countOrPercent = z.union([z.number().int(COUNT_OR_PERCENT).min(1, COUNT_OR_PERCENT), z.string().regex(/^\d+%$/, COUNT_OR_PERCENT)], {
  error: COUNT_OR_PERCENT,
});

const updateFields = {
  canaries: z.union([z.number().int().nonnegative(), z.string().regex(/^\d+%$/)], { error: "Expected a non-negative integer or a percentage like '20%'" }),
  max_in_flight: countOrPercent,
  canary_watch_time: watchTime,
  update_watch_time: watchTime,
  serial: z.boolean().optional(),
};

export const updateBlock = z.object(updateFields).transform((u) => ({ ...u, serial: u.serial ?? true }));
export const updateOverride = z.object(updateFields).partial();

const release = z.object({ name: str, version: str, url: z.string().optional(), sha1: z.string().optional() });

const stemcell = z
  .object({ alias: str, os: str.optional(), name: str.optional(), version: str })
  .refine((s) => s.os != null || s.name != null, "A stemcell needs either 'os' or 'name'");

const job = z.object({
  name: str,
  release: str,
  properties: record.optional(),
  consumes: record.optional(),
  provides: record.optional(),
});

const igNetwork = z.object({ name: str, static_ips: stringList.optional(), default: stringList.optional() });

const instanceGroup = z.object({
  name: str,
  azs: stringList.optional(),
  instances: z.number().int().nonnegative(),
  jobs: z.array(job),
  vm_type: str.optional(),
  vm_resources: z
    .object({ cpu: z.number(), ram: z.number(), ephemeral_disk_size: z.number() })
    .optional(),
  vm_extensions: stringList.optional(),
  stemcell: str,
  networks: z.array(igNetwork).min(1),
  persistent_disk: z.number().int().nonnegative().optional(),
  persistent_disk_type: str.optional(),
  properties: record.optional(),
  lifecycle: z.enum(['service', 'errand']).default('service'),
  update: updateOverride.optional(),
  env: record.optional(),
  migrated_from: z.array(z.object({ name: str, az: str.optional() })).optional(),
  state: z.enum(['started', 'stopped', 'detached'], { error: (issue) => `Invalid state '${String(issue.input)}', valid states are: started, stopped, detached` }).optional(),
});

const variableList = z.array(z.object({ name: str, type: str, options: record.optional() }));
export const manifestVariables = z.object({ variables: variableList });

export const deploymentManifest = z.object({
  name: str,
  releases: z.array(release),
  stemcells: z.array(stemcell),
  update: updateBlock,
  instance_groups: z.array(instanceGroup),
  properties: record.optional(),
  variables: variableList.optional(),
  features: record.optional(),
  tags: z.record(z.string(), str).optional(),
  addons: z.array(z.unknown()).optional(), // validated by runtime-config.ts (addon schema)
});

const named = z.object({ name: str, cloud_properties: record.optional() });

const subnet = z.object({
  // required for manual networks; checked with the network type in cloud-config.ts
  range: z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, "Expected a CIDR range like '10.0.0.0/24'").optional(),
  gateway: z.string().regex(/^\d{1,3}(\.\d{1,3}){3}$/, 'Expected an IPv4 address').optional(),
  dns: stringList.optional(),
  reserved: stringList.optional(),
  static: stringList.optional(),
  az: str.optional(),
  azs: stringList.optional(),
  cloud_properties: record.optional(),
});

const network = z.object({
  name: str,
  type: z.enum(['manual', 'dynamic', 'vip']).default('manual'),
  subnets: z.array(subnet).optional(),
  dns: stringList.optional(),
  cloud_properties: record.optional(),
});

export const cloudConfig = z.object({
  azs: z.array(named.extend({ cpi: str.optional() })).default([]),
  vm_types: z.array(named).default([]),
  vm_extensions: z.array(named).default([]),
  disk_types: z
    .array(z.object({ name: str, disk_size: z.number().int().nonnegative(), cloud_properties: record.optional() }))
    .default([]),
  networks: z.array(network),
  compilation: z.object({
    workers: z.number().int().min(1),
    network: str,
    az: str.optional(),
    vm_type: str.optional(),
    cloud_properties: record.optional(),
    reuse_compilation_vms: z.boolean().optional(),
    env: record.optional(),
  }),
});
