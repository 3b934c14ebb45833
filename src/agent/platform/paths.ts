// The /var/vcap layout (agent-protocol.md §5.4), derived from the agent's base dir (-b).
import { join } from 'node:path';

export interface VcapPaths {
  base: string;
  bosh: string;
  boshEtc: string;
  boshBin: string;
  boshLog: string;
  settings: string;
  spec: string;
  tasks: string;
  updateSettings: string;
  diskHints: string;
  managedDisk: string;
  bundledLogs: string;
  data: string;
  dataJobs: string;
  dataPackages: string;
  dataCompile: string;
  dataSys: string;
  sysLog: string;
  sysRun: string;
  blobs: string;
  sensitiveBlobs: string;
  tmp: string;
  sys: string;
  jobs: string;
  packages: string;
  store: string;
  storeMigrationTarget: string;
  dynamicDisks: string;
  boshSsh: string;
  monit: string;
  monitJob: string;
  monitUser: string;
  monitStopped: string;
  instance: string;
  instanceDisks: string;
  dnsRecords: string;
  health: string;
}

export function vcapPaths(base = '/var/vcap'): VcapPaths {
  const bosh = join(base, 'bosh');
  const data = join(base, 'data');
  const monit = join(base, 'monit');
  const instance = join(base, 'instance');
  return {
    base,
    bosh,
    boshEtc: join(bosh, 'etc'),
    boshBin: join(bosh, 'bin'),
    boshLog: join(bosh, 'log'),
    settings: join(bosh, 'settings.json'),
    spec: join(bosh, 'spec.json'),
    tasks: join(bosh, 'tasks.json'),
    updateSettings: join(bosh, 'update_settings.json'),
    diskHints: join(bosh, 'persistent_disk_hints.json'),
    managedDisk: join(bosh, 'managed_disk_settings.json'),
    bundledLogs: join(data, 'bundled_logs'),
    data,
    dataJobs: join(data, 'jobs'),
    dataPackages: join(data, 'packages'),
    dataCompile: join(data, 'compile'),
    dataSys: join(data, 'sys'),
    sysLog: join(data, 'sys', 'log'),
    sysRun: join(data, 'sys', 'run'),
    blobs: join(data, 'blobs'),
    sensitiveBlobs: join(data, 'sensitive_blobs'),
    tmp: join(data, 'tmp'),
    sys: join(base, 'sys'),
    jobs: join(base, 'jobs'),
    packages: join(base, 'packages'),
    store: join(base, 'store'),
    storeMigrationTarget: join(base, 'store_migration_target'),
    dynamicDisks: join(data, 'dynamic_disks'),
    boshSsh: join(base, 'bosh_ssh'),
    monit,
    monitJob: join(monit, 'job'),
    monitUser: join(monit, 'monit.user'),
    monitStopped: join(monit, 'stopped'),
    instance,
    instanceDisks: join(instance, 'disks'),
    dnsRecords: join(instance, 'dns', 'records.json'),
    health: join(instance, 'health.json'),
  };
}
