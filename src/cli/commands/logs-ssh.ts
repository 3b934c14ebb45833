// logs (fetch_logs task, then GET /resources/<blob id>), ssh and scp (the ssh setup task, then the
// system ssh/scp client with a throwaway key and the host keys the director reported; §2.5).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError, type CliContext } from '../context.js';
import { collectVar } from '../flags.js';
import type { Wrap } from '../main.js';
import { parseInstanceSlug } from './instance-state.js';

interface LogsFlags {
  job: string[];
  only: string[];
  agent?: boolean;
  system?: boolean;
  all?: boolean;
  dir: string;
  follow?: boolean;
  num?: string;
}

interface SshFlags {
  command?: string;
  opts: string[];
  results?: boolean;
  gwHost?: string;
  gwUser?: string;
  gwPrivateKey?: string;
  gwDisable?: boolean;
}

export function registerLogsSshCommands(program: Command, wrap: Wrap): void {
  program
    .command('logs [instance]')
    .description('download logs of the deployment (all, an instance group, or <group>/<index-or-id>)')
    .option('--job <name>', 'only logs of this job (repeatable)', collectVar, [])
    .option('--only <filter>', 'only logs matching this path filter (repeatable)', collectVar, [])
    .option('--agent', 'agent logs only')
    .option('--system', 'system logs only')
    .option('--all-logs', 'job, agent and system logs')
    .option('--dir <path>', 'directory to save the tarball in', '.')
    .option('-f, --follow', 'follow the job logs over ssh (tail -F)')
    .option('--num <lines>', 'with --follow: lines to show first', '10')
    .action(wrap(async (ctx, slug: string | undefined, opts: LogsFlags) => (opts.follow ? followLogs(ctx, slug, opts) : fetchLogs(ctx, slug, opts))));

  program
    .command('ssh [instance]')
    .description('ssh to an instance, or run a command (-c) on many')
    .option('-c, --command <cmd>', 'command to run instead of an interactive shell')
    .option('--opts <opt>', 'option for the ssh client (repeatable)', collectVar, [])
    .option('-r, --results', 'collect output and print it as a table (with -c)')
    .option('--gw-host <host>', 'gateway host')
    .option('--gw-user <user>', 'gateway user')
    .option('--gw-private-key <path>', 'gateway private key')
    .option('--gw-disable', 'do not use the gateway the director names')
    .action(wrap(async (ctx, slug: string | undefined, opts: SshFlags) => ssh(ctx, slug, opts)));

  program
    .command('scp <source> <destination>')
    .description("copy files to or from instances ('<group>[/<id>]:<path>' names the instance side)")
    .option('-r, --recursive', 'copy directories')
    .option('--opts <opt>', 'option for the scp client (repeatable)', collectVar, [])
    .option('--gw-host <host>', 'gateway host')
    .option('--gw-user <user>', 'gateway user')
    .option('--gw-private-key <path>', 'gateway private key')
    .option('--gw-disable', 'do not use the gateway the director names')
    .action(wrap(async (ctx, source: string, destination: string, opts: SshFlags & { recursive?: boolean }) => scp(ctx, source, destination, opts)));
}

async function fetchLogs(ctx: CliContext, slug: string | undefined, opts: LogsFlags): Promise<void> {
  const director = await ctx.director();
  const deployment = ctx.deployment();
  const { group, id } = parseInstanceSlug(slug);
  const types = opts.all ? ['job', 'agent', 'system'] : [opts.agent ? 'agent' : undefined, opts.system ? 'system' : undefined].filter((t): t is string => !!t);
  const task = await director.runTask(
    'GET',
    `/deployments/${encodeURIComponent(deployment)}/jobs/${group ? encodeURIComponent(group) : '*'}/${id !== undefined ? encodeURIComponent(id) : '*'}/logs`,
    { query: { type: (types.length ? types : ['job']).join(','), filters: [...opts.job, ...opts.only].join(',') || undefined } },
    ctx.taskReporter(),
  );
  const blobId = task.result ?? '';
  if (!blobId) throw new CliError(`Expected task '${task.id}' to name the logs blob`);
  const name = [deployment, group, id].filter(Boolean).join('.');
  mkdirSync(opts.dir, { recursive: true });
  const path = resolve(opts.dir, `${name}-${timestamp()}.tgz`);
  ctx.ui.printLine(`Downloading resource '${blobId}' to '${path}'...`);
  const { progressBar } = await import('../renderers/progress.js');
  await director.download(`/resources/${encodeURIComponent(blobId)}`, path, progressBar('Downloading logs', !!ctx.options.json));
}

/** bosh's file time stamp: 20261121-120102-123 */
function timestamp(): string {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}-${p(d.getUTCMilliseconds(), 3)}`;
}

async function followLogs(ctx: CliContext, slug: string | undefined, opts: LogsFlags): Promise<void> {
  const jobs = opts.job.length ? opts.job.map((j) => `/var/vcap/sys/log/${j}/*.log`) : ['/var/vcap/sys/log/**/*.log'];
  const globs = opts.agent ? ['/var/vcap/bosh/log/current'] : jobs;
  const command = `sudo bash -O globstar -c 'exec tail -n ${Number(opts.num) || 10} -F ${globs.join(' ')}'`;
  await ssh(ctx, slug, { command, opts: [] });
}

interface SshHost {
  status: string;
  ip: string;
  host_public_key: string;
  id: string;
  index: number;
  job: string;
  gateway_host?: string;
  gateway_user?: string;
}

interface SshSession {
  hosts: SshHost[];
  user: string;
  /** client options for one host: key, pinned host keys, gateway */
  options(h: SshHost): string[];
}

/**
 * Runs the ssh setup task for the instances of `slug`, with a throwaway user and RSA key, then
 * `use`; afterwards the key is deleted and the cleanup task started (not awaited, as bosh).
 */
async function withSshSession(ctx: CliContext, slug: string | undefined, gateway: SshFlags, use: (session: SshSession) => Promise<void>): Promise<void> {
  const director = await ctx.director();
  const deployment = ctx.deployment();
  const { group, id } = parseInstanceSlug(slug);
  const { generateKeyPairSync, randomBytes } = await import('node:crypto');
  const user = `bosh_${randomBytes(8).toString('hex').slice(0, 14)}`;
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const target = { job: group, indexes: id !== undefined ? [id] : [], ids: id !== undefined ? [id] : [] };
  const path = `/deployments/${encodeURIComponent(deployment)}/ssh`;
  const setup = await director.runTask(
    'POST',
    path,
    {
      body: JSON.stringify({ deployment_name: deployment, target, command: 'setup', params: { user, public_key: opensshPublicKey(keys.publicKey.export({ format: 'jwk' })) } }),
      contentType: 'application/json',
    },
    ctx.taskReporter(),
  );
  const hosts = JSON.parse((await director.taskOutput(setup.id, 'result')) || '[]') as SshHost[];
  const dir = mkdtempSync(join(tmpdir(), 'capstan-ssh-'));
  try {
    const keyPath = join(dir, 'id_rsa');
    writeFileSync(keyPath, keys.privateKey.export({ format: 'pem', type: 'pkcs1' }) as string, { mode: 0o600 });
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, hosts.map((h) => `${h.ip} ${h.host_public_key}\n`).join(''));
    if (hosts.length === 0) throw new CliError(`Expected at least one instance to ssh to in deployment '${deployment}'`);
    const options = (h: SshHost) => [
      '-i', keyPath,
      '-o', 'IdentitiesOnly=yes',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', `UserKnownHostsFile=${knownHosts}`,
      ...gatewayArgs(h, gateway),
    ];
    await use({ hosts, user, options });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await director
      .raw('POST', path, {
        body: JSON.stringify({ deployment_name: deployment, target, command: 'cleanup', params: { user_regex: `^${user}` } }),
        contentType: 'application/json',
      })
      .catch(() => undefined);
  }
}

async function ssh(ctx: CliContext, slug: string | undefined, opts: SshFlags): Promise<void> {
  const client = ctx.env.CAPSTAN_SSH || 'ssh';
  await withSshSession(ctx, slug, opts, async ({ hosts, user, options }) => {
    const argsFor = (h: SshHost) => [
      ...options(h),
      ...opts.opts,
      ...(opts.command === undefined ? ['-tt'] : []),
      `${user}@${h.ip}`,
      ...(opts.command !== undefined ? [opts.command] : []),
    ];
    if (opts.command === undefined) {
      if (hosts.length !== 1) throw new CliError(`Expected an instance for an interactive session but ${hosts.length} match (give <group>/<index-or-id> or -c)`);
      const code = await run(client, argsFor(hosts[0]), 'inherit');
      if (code !== 0) throw new CliError(`Running ssh: exit code ${code}`);
      return;
    }
    const codes = await Promise.all(hosts.map((h) => run(client, argsFor(h), (stream, line) => ctx.ui.endLine(`${h.job}/${h.id}: ${stream} | ${line}`))));
    const failed = codes.filter((c) => c !== 0).length;
    if (failed) throw new CliError(`Running command on ${failed} of ${hosts.length} instance(s) failed`);
  });
}

/** `ig[/id]:path` names a path on instances; anything else is local. */
function remotePath(arg: string): { slug: string; path: string } | undefined {
  const m = /^([A-Za-z0-9][^/:]*(?:\/[^/:]+)?):(.*)$/.exec(arg);
  return m ? { slug: m[1], path: m[2] } : undefined;
}

async function scp(ctx: CliContext, source: string, dest: string, opts: SshFlags & { recursive?: boolean }): Promise<void> {
  const from = remotePath(source);
  const to = remotePath(dest);
  if (!!from === !!to) throw new CliError("Expected exactly one of source and destination to be an instance path ('<group>[/<id>]:<path>')");
  const client = ctx.env.CAPSTAN_SCP || 'scp';
  const remote = (from ?? to)!;
  await withSshSession(ctx, remote.slug, opts, async ({ hosts, user, options }) => {
    if (from && hosts.length !== 1) throw new CliError(`Expected one instance to copy from but ${hosts.length} match (give <group>/<index-or-id>)`);
    const codes = await Promise.all(
      hosts.map((h) => {
        const at = `${user}@${h.ip}:${remote.path}`;
        const args = [...options(h), ...opts.opts, ...(opts.recursive ? ['-r'] : []), from ? at : source, from ? dest : at];
        return run(client, args, (stream, line) => ctx.ui.endLine(`${h.job}/${h.id}: ${stream} | ${line}`));
      }),
    );
    const failed = codes.filter((c) => c !== 0).length;
    if (failed) throw new CliError(`Copying failed on ${failed} of ${hosts.length} instance(s)`);
  });
}

function gatewayArgs(h: SshHost, opts: SshFlags): string[] {
  const host = opts.gwDisable ? undefined : (opts.gwHost ?? h.gateway_host);
  if (!host) return [];
  const gwUser = opts.gwUser ?? h.gateway_user ?? 'vcap';
  const key = opts.gwPrivateKey ? `-i ${opts.gwPrivateKey} ` : '';
  return ['-o', `ProxyCommand=ssh ${key}-W %h:%p ${gwUser}@${host}`];
}

type LineSink = (stream: 'stdout' | 'stderr', line: string) => void;

function run(command: string, args: string[], output: 'inherit' | LineSink): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { stdio: output === 'inherit' ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    if (output !== 'inherit') {
      for (const stream of ['stdout', 'stderr'] as const) {
        let rest = '';
        child[stream]!.on('data', (chunk: Buffer) => {
          const lines = (rest + chunk.toString('utf8')).split('\n');
          rest = lines.pop() ?? '';
          for (const line of lines) output(stream, line);
        });
        child[stream]!.on('end', () => rest && output(stream, rest));
      }
    }
    child.on('error', (err) => fail(new CliError(`Running '${command}': ${err.message}`)));
    child.on('close', (code) => done(code ?? 1));
  });
}

/** `ssh-rsa AAAA...` from an RSA public key's JWK (e, n). */
export function opensshPublicKey(jwk: { e?: string; n?: string }): string {
  const field = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const mpint = (b64: string) => {
    const raw = Buffer.from(b64, 'base64url');
    return field(raw[0] & 0x80 ? Buffer.concat([Buffer.from([0]), raw]) : raw);
  };
  const blob = Buffer.concat([field(Buffer.from('ssh-rsa')), mpint(jwk.e ?? ''), mpint(jwk.n ?? '')]);
  return `ssh-rsa ${blob.toString('base64')}`;
}
