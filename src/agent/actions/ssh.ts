// ssh setup/cleanup (§2.10). ubuntu: real users (useradd/usermod/userdel). dummy: SIMULATED — only
// the home dir <base>/bosh_ssh/<user> with .ssh/authorized_keys is created/removed, no system user.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir, writeFile, readFile, chmod, chown, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentServices } from '../services.js';
import { objectArg, stringArg, type Action } from './action.js';

const execFileP = promisify(execFile);

interface SshParams {
  user?: string;
  public_key?: string;
  user_regex?: string;
}

const HOST_KEY = '/etc/ssh/ssh_host_rsa_key.pub';

export class SshAction implements Action {
  readonly name = 'ssh';
  readonly isAsynchronous = false;
  readonly requiredArgs = 2;

  constructor(private readonly services: AgentServices) {}

  async run(args: unknown[]): Promise<Record<string, string>> {
    const command = stringArg(args, 0);
    const params = objectArg<SshParams>(args, 1, 'action.SSHParams');
    if (command === 'setup') return this.setup(params);
    if (command === 'cleanup') return this.cleanup(params);
    throw new Error('Unknown command for SSH method');
  }

  private defaultIp(): string {
    const networks = Object.values(this.services.settings().networks);
    const ip = (networks.find((n) => n.default?.length && n.ip) ?? networks.find((n) => n.ip))?.ip;
    if (!ip) throw new Error('No default ip could be found');
    return ip;
  }

  private async setup(params: SshParams): Promise<Record<string, string>> {
    const user = params.user ?? '';
    if (!/^[a-z_][a-z0-9_-]*$/i.test(user)) throw new Error(`Invalid ssh user name '${user}'`);
    const dummy = this.services.platform === 'dummy';
    const hostKey = await readFile(HOST_KEY, 'utf8').catch((err: Error) => {
      if (dummy) return '';
      throw new Error(`Reading host public key: ${err.message}`);
    });
    const ip = this.defaultIp();
    const base = this.services.paths.boshSsh;
    const home = join(base, user);
    await mkdir(base, { recursive: true, mode: 0o755 });
    await chmod(base, 0o755);
    if (!dummy) {
      await execFileP('useradd', ['-m', '-b', base, '-s', '/bin/bash', user]);
      await execFileP('usermod', ['-G', await existingGroups(['vcap', 'admin', 'bosh_sudoers', 'bosh_sshers']), user]);
    }
    await mkdir(join(home, '.ssh'), { recursive: true, mode: 0o700 });
    await chmod(home, 0o700);
    await writeFile(join(home, '.ssh', 'authorized_keys'), params.public_key ?? '', { mode: 0o600 });
    if (!dummy) {
      const { uid, gid } = await userIds(user);
      for (const path of [home, join(home, '.ssh'), join(home, '.ssh', 'authorized_keys')]) await chown(path, uid, gid);
    }
    return { command: 'setup', status: 'success', ip, host_public_key: hostKey };
  }

  private async cleanup(params: SshParams): Promise<Record<string, string>> {
    const pattern = new RegExp(params.user_regex ?? '^$');
    const matches = (name: string) => name.startsWith('bosh_') && pattern.test(name);
    if (this.services.platform === 'dummy') {
      for (const name of await readdir(this.services.paths.boshSsh).catch(() => [] as string[])) {
        if (matches(name)) await rm(join(this.services.paths.boshSsh, name), { recursive: true, force: true });
      }
    } else {
      const passwd = await readFile('/etc/passwd', 'utf8');
      for (const name of passwd.split('\n').map((l) => l.split(':')[0])) {
        if (name && matches(name)) await execFileP('userdel', ['-rf', name]);
      }
    }
    return { command: 'cleanup', status: 'success' };
  }
}

/** usermod -G fails on a missing group; stemcells have them all, other hosts maybe not. */
async function existingGroups(groups: string[]): Promise<string> {
  const names = new Set((await readFile('/etc/group', 'utf8').catch(() => '')).split('\n').map((l) => l.split(':')[0]));
  return groups.filter((g) => names.has(g)).join(',');
}

async function userIds(user: string): Promise<{ uid: number; gid: number }> {
  const entry = (await readFile('/etc/passwd', 'utf8')).split('\n').find((l) => l.split(':')[0] === user);
  if (!entry) throw new Error(`User '${user}' was not created`);
  const [, , uid, gid] = entry.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
