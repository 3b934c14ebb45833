// `capstan stemcell build`: the base rootfs plus the /var/vcap skeleton, runit services for the agent
// and monit, and the bundled agent, packed as a BOSH-format stemcell tarball (stemcell.MF + image).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, chmod, chown, copyFile, mkdir, readdir, readFile, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { fileDigest } from '../common/digest.js';
import { createTgz } from '../common/tar.js';
import { AGENT_NODE_ENV, AGENT_NODE_FLAGS } from '../agent/node-flags.js';
import { buildAgentBundle } from './agent-bundle.js';
import { DEFAULT_STEMCELL_OS, ensureBaseRootfs, run, stemcellOsRecipe, type BaseRootfs, type Progress, type StemcellOsRecipe } from './rootfs.js';

type MonitAuth = StemcellOsRecipe['monitAuth'];
import type { StemcellManifest } from './types.js';

export const STEMCELL_OS = DEFAULT_STEMCELL_OS;
export const STEMCELL_NAME = stemcellName(STEMCELL_OS);
export const STEMCELL_FORMAT = 'docker-tgz';

const VCAP_UID = 1000;
const AGENT_BUNDLE = 'var/vcap/bosh/bin/capstan-agent.cjs';
/** The agent's File settings source; the Docker CPI writes it into the container before start. */
export const SETTINGS_PATH = '/var/vcap/bosh/warden-cpi-agent-env.json';

export interface BuildStemcellOptions {
  cacheDir: string;
  outputPath?: string;
  agentBundlePath: string;
  progress?: Progress;
  /** Operating system (`--os`), one of STEMCELL_OSES; default debian-bookworm. */
  os?: string;
  /** Stemcell version (`--version`); default `1.<content hash>`, which changes with any input. */
  version?: string;
}

export interface BuiltStemcell {
  tarballPath: string;
  name: string;
  version: string;
}

interface OverlayFile {
  path: string; // relative to the rootfs
  content: string;
  mode: number;
}

const AGENT_CONFIG = {
  Platform: {
    Linux: { UseDefaultTmpDir: true, UsePreformattedPersistentDisk: true, BindMountPersistentDisk: true, SkipDiskSetup: true },
  },
  Infrastructure: { Settings: { Sources: [{ Type: 'File', SettingsPath: SETTINGS_PATH }] } },
  Capstan: { MonitPort: 2822, AlertSmtpPort: 2825, Monit: 'runit' },
};

const MONIT_USER = '/var/vcap/monit/monit.user';
const MONIT_AUTH_INCLUDE = '/var/vcap/monit/monit.auth';

// monit refuses a control file readable by others; the agent writes monit.user before enabling monit.
function monitrc(auth: MonitAuth): string {
  const allow = auth === 'htpasswd' ? `allow cleartext ${MONIT_USER}` : `include ${MONIT_AUTH_INCLUDE}`;
  return `set daemon 10
set logfile /var/vcap/monit/monit.log
set idfile /var/vcap/monit/monit.id
set statefile /var/vcap/monit/monit.state
set pidfile /var/vcap/monit/monit.pid
set eventqueue basedir /var/vcap/monit/events slots 5000
set mailserver 127.0.0.1 port 2825
set alert agent@local
set httpd port 2822 and use address 127.0.0.1
  ${allow}
include /var/vcap/monit/*.monitrc
include /var/vcap/monit/job/*.monitrc
`;
}

/** runit's monit service; with inline auth it first turns monit.user into the `allow` line monitrc includes. */
function monitRunScript(auth: MonitAuth): string {
  const inline = auth === 'inline' ? `(umask 077 && printf '  allow %s\\n' "$(cat ${MONIT_USER})" > ${MONIT_AUTH_INCLUDE})\n` : '';
  return `#!/bin/sh\nexec 2>&1\n${inline}exec /usr/bin/monit -I -c /var/vcap/bosh/etc/monitrc\n`;
}

/** Files every stemcell adds on top of the base rootfs (their text is part of the stemcell version). */
function overlayFiles(os: string): OverlayFile[] {
  const { monitAuth } = stemcellOsRecipe(os);
  return [
    { path: 'var/vcap/bosh/agent.json', content: `${JSON.stringify(AGENT_CONFIG, null, 2)}\n`, mode: 0o644 },
    { path: 'var/vcap/bosh/etc/monitrc', content: monitrc(monitAuth), mode: 0o700 },
    { path: 'etc/sv/monit/run', content: monitRunScript(monitAuth), mode: 0o755 },
    // Linked into /etc/service but down: runsv is ready at boot and the agent's `sv start monit`,
    // once it has written monit.user, takes effect at once (runsvdir rescans only every 5 s).
    { path: 'etc/sv/monit/down', content: '', mode: 0o644 },
    {
      path: 'etc/sv/agent/run',
      content: `#!/bin/sh\nexec 2>&1\nexport PATH=/var/vcap/bosh/bin:$PATH\nexport ${Object.entries(AGENT_NODE_ENV).map(([k, v]) => `${k}=${v}`).join(' ')}\nexec /usr/bin/node ${AGENT_NODE_FLAGS.join(' ')} /${AGENT_BUNDLE} -P ubuntu -C /var/vcap/bosh/agent.json\n`,
      mode: 0o755,
    },
    { path: 'etc/sv/agent/log/run', content: '#!/bin/sh\nmkdir -p /var/vcap/bosh/log\nexec svlogd -tt /var/vcap/bosh/log\n', mode: 0o755 },
  ];
}

const SKELETON_DIRS: Array<[string, number]> = [
  ['var/vcap', 0o755],
  ['var/vcap/bosh', 0o755],
  ['var/vcap/bosh/bin', 0o755],
  ['var/vcap/bosh/etc', 0o755],
  ['var/vcap/bosh/log', 0o755],
  ['var/vcap/data', 0o755],
  ['var/vcap/jobs', 0o755],
  ['var/vcap/packages', 0o755],
  ['var/vcap/monit', 0o700],
  ['var/vcap/monit/job', 0o700],
  ['var/vcap/monit/events', 0o700],
  ['var/vcap/store', 0o700],
  ['var/vcap/instance', 0o755],
  ['var/vcap/bosh_ssh', 0o755],
];

/** The version changes whenever the base rootfs, the agent bundle or the overlay changes. */
async function stemcellVersion(baseSha256: string, agentBundlePath: string, os: string): Promise<string> {
  const hash = createHash('sha256')
    .update(baseSha256)
    .update(await fileDigest(agentBundlePath, 'sha256'))
    .update(JSON.stringify({ overlay: overlayFiles(os), dirs: SKELETON_DIRS, uid: VCAP_UID }))
    .digest('hex');
  // numeric-leading so BOSH-style version parsers accept it; the hash part identifies the content
  return `1.${hash.slice(0, 12)}`;
}

export function stemcellName(os: string): string {
  return `bosh-capstan-docker-${os}`;
}

export function stemcellTarballName(version: string, name = STEMCELL_NAME): string {
  return `${name}-${version}.tgz`;
}

/** How the stemcell was made, recorded in stemcell.MF (`build`) so a build can be checked and repeated. */
interface BuildRecord {
  suite: string;
  mirror: string;
  variant: 'minbase';
  base_rootfs_sha256: string;
  agent_sha256: string;
  content_version: string;
  /** Every installed Debian package, `<name> <version>`. */
  packages: string[];
}

/** Builds (or reuses from cacheDir) the stemcell and returns where its tarball is. */
export async function buildStemcell(options: BuildStemcellOptions): Promise<BuiltStemcell> {
  const progress = options.progress ?? (() => {});
  const os = options.os ?? STEMCELL_OS;
  stemcellOsRecipe(os); // fails early on an unknown OS
  if (options.version !== undefined && !/^[0-9A-Za-z][0-9A-Za-z._+-]*$/.test(options.version)) {
    throw new Error(`Invalid stemcell version '${options.version}' (letters, digits, '.', '_', '+', '-')`);
  }
  if (!existsSync(options.agentBundlePath)) {
    throw new Error(`Agent bundle '${options.agentBundlePath}' not found (run 'npm run build:agent')`);
  }
  const name = stemcellName(os);
  const base = await ensureBaseRootfs(options.cacheDir, progress, os);
  const contentVersion = await stemcellVersion(base.sha256, options.agentBundlePath, os);
  const version = options.version ?? contentVersion;
  const cached = join(options.cacheDir, 'stemcells', stemcellTarballName(version, name));
  // a chosen version names the file but not the content: the content version is kept beside it
  const contentPath = `${cached}.content`;
  const upToDate =
    existsSync(cached) && (options.version === undefined || (await readFile(contentPath, 'utf8').catch(() => '')) === contentVersion);
  if (upToDate) {
    progress(`Reusing stemcell ${name}/${version}`);
  } else {
    progress(`Assembling stemcell ${name}/${version}`);
    await mkdir(dirname(cached), { recursive: true });
    const build: BuildRecord = {
      suite: base.suite,
      mirror: base.mirror,
      variant: 'minbase',
      base_rootfs_sha256: base.sha256,
      agent_sha256: await fileDigest(options.agentBundlePath, 'sha256'),
      content_version: contentVersion,
      packages: base.packages,
    };
    await assembleStemcell(base, options.agentBundlePath, { name, os, version, build }, cached);
    await writeFile(contentPath, contentVersion);
    await pruneOtherStemcells(dirname(cached), name, cached);
  }
  if (options.outputPath && options.outputPath !== cached) {
    await mkdir(dirname(options.outputPath), { recursive: true });
    await copyFile(cached, options.outputPath);
  }
  return { tarballPath: options.outputPath ?? cached, name, version };
}

/** Older builds are superseded (the director keeps its own copy of what was uploaded). */
async function pruneOtherStemcells(dir: string, name: string, keep: string): Promise<void> {
  for (const file of await readdir(dir)) {
    const path = join(dir, file);
    const isBuild = file.endsWith('.tgz') || file.endsWith('.tgz.content');
    if (isBuild && file.startsWith(`${name}-`) && path !== keep && path !== `${keep}.content`) await rm(path, { force: true });
  }
}

interface StemcellIdentity {
  name: string;
  os: string;
  version: string;
  build: BuildRecord;
}

/** Files added to the image are dated here (with --clamp-mtime): the image bytes depend on content only. */
const IMAGE_MTIME = '2024-01-01T00:00:00Z';

async function assembleStemcell(base: BaseRootfs, agentBundlePath: string, id: StemcellIdentity, destination: string): Promise<void> {
  const work = join(dirname(destination), `.assemble-${id.version}-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  const rootfs = join(work, 'rootfs');
  await mkdir(rootfs, { recursive: true });
  try {
    await run('tar', ['--numeric-owner', '--xattrs', '-C', rootfs, '-xf', base.tarPath]);
    await customizeRootfs(rootfs, agentBundlePath, id.version, id.os);
    const image = join(work, 'image');
    await run('tar', [
      '--numeric-owner', '--xattrs', '--sort=name', `--mtime=${IMAGE_MTIME}`, '--clamp-mtime',
      // the pax headers --xattrs brings would record access and change times
      '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
      '--use-compress-program=gzip -n', '-C', rootfs, '-cf', image, '.',
    ]);
    await rm(rootfs, { recursive: true, force: true });
    const manifest: StemcellManifest & { build: BuildRecord } = {
      name: id.name,
      version: id.version,
      operating_system: id.os,
      sha1: await fileDigest(image, 'sha1'),
      api_version: 3,
      stemcell_formats: [STEMCELL_FORMAT],
      cloud_properties: {},
      build: id.build,
    };
    await writeFile(join(work, 'stemcell.MF'), stringify(manifest));
    const partial = join(work, 'stemcell.tgz');
    await createTgz(work, partial, ['stemcell.MF', 'image']);
    await rename(partial, destination);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function customizeRootfs(rootfs: string, agentBundlePath: string, version: string, os: string): Promise<void> {
  for (const [dir, mode] of SKELETON_DIRS) {
    await mkdir(join(rootfs, dir), { recursive: true });
    await chmod(join(rootfs, dir), mode);
  }
  for (const file of overlayFiles(os)) {
    await mkdir(dirname(join(rootfs, file.path)), { recursive: true });
    await writeFile(join(rootfs, file.path), file.content);
    await chmod(join(rootfs, file.path), file.mode);
  }
  await copyFile(agentBundlePath, join(rootfs, AGENT_BUNDLE));
  await chmod(join(rootfs, AGENT_BUNDLE), 0o755);
  await writeFile(join(rootfs, 'var/vcap/bosh/etc/stemcell_version'), version);
  await writeFile(join(rootfs, 'var/vcap/bosh/etc/operating_system'), os);
  await addVcapUser(rootfs);
  await configureServices(rootfs);
}

/** User and group vcap (uid/gid 1000), as on BOSH stemcells; jobs run as vcap. */
async function addVcapUser(rootfs: string): Promise<void> {
  const passwd = await readFile(join(rootfs, 'etc/passwd'), 'utf8');
  if (/^vcap:/m.test(passwd)) return;
  if (new RegExp(`^[^:]*:[^:]*:${VCAP_UID}:`, 'm').test(passwd)) throw new Error(`uid ${VCAP_UID} is taken in the base rootfs`);
  await appendFile(join(rootfs, 'etc/passwd'), `vcap:x:${VCAP_UID}:${VCAP_UID}:BOSH System User:/home/vcap:/bin/bash\n`);
  await appendFile(join(rootfs, 'etc/group'), `vcap:x:${VCAP_UID}:\n`);
  await appendFile(join(rootfs, 'etc/shadow'), 'vcap:*:19000:0:99999:7:::\n');
  await appendFile(join(rootfs, 'etc/gshadow'), 'vcap:!::\n');
  await mkdir(join(rootfs, 'home/vcap'), { recursive: true });
  await chown(join(rootfs, 'home/vcap'), VCAP_UID, VCAP_UID);
  await chmod(join(rootfs, 'home/vcap'), 0o755);
}

/**
 * runsvdir (PID 1 in the container) supervises /etc/service, which on Debian points at
 * /etc/runit/runsvdir/default. Only the agent runs at boot (monit's service is there, but down): Debian's default syslog and sshd
 * services are disabled and the build-time ssh host keys removed (they would be shared by every VM).
 */
async function configureServices(rootfs: string): Promise<void> {
  const debianDefault = join(rootfs, 'etc/runit/runsvdir/default');
  const serviceDir = existsSync(debianDefault) ? debianDefault : join(rootfs, 'etc/service');
  await mkdir(serviceDir, { recursive: true });
  for (const name of ['default-syslog', 'ssh']) await unlink(join(serviceDir, name)).catch(() => {});
  await symlink('/etc/sv/agent', join(serviceDir, 'agent'));
  await symlink('/etc/sv/monit', join(serviceDir, 'monit'));
  const sshDir = join(rootfs, 'etc/ssh');
  const hostKeys = existsSync(sshDir) ? (await readdir(sshDir)).filter((n) => n.startsWith('ssh_host_')) : [];
  for (const name of hostKeys) await unlink(join(sshDir, name));
}

/**
 * `capstan stemcell build` / `capstan up`: rebuilds the agent bundle, then builds or reuses the
 * stemcell in <capstanHome>/cache.
 */
export async function buildDefaultStemcell(options: {
  capstanHome: string;
  outputPath?: string;
  progress?: Progress;
  os?: string;
  version?: string;
}): Promise<BuiltStemcell> {
  const { capstanHome, ...rest } = options;
  const agentBundlePath = await buildAgentBundle();
  return buildStemcell({ ...rest, cacheDir: join(capstanHome, 'cache'), agentBundlePath });
}
