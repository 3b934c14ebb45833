// The Docker bridge network Capstan's VMs live on. Its gateway is the host side of the bridge: with the
// engine run as `dockerd --iptables=false`, VMs reach NATS and the blobstore there, without NAT.
import Docker from 'dockerode';

export interface DockerNetworkSpec {
  name: string;
  subnet: string; // CIDR
  gateway: string;
  /** Linux bridge interface name on the host (at most 15 characters). */
  bridgeName?: string;
}

export const DEFAULT_NETWORK: DockerNetworkSpec = { name: 'capstan', subnet: '10.245.0.0/24', gateway: '10.245.0.1', bridgeName: 'capstan0' };

export interface EnsureNetworkOptions extends Partial<DockerNetworkSpec> {
  socketPath?: string;
  docker?: Docker;
}

interface NetworkInfo {
  Id: string;
  Name: string;
  IPAM?: { Config?: Array<{ Subnet?: string; Gateway?: string }> };
}

function dockerFor(options: { socketPath?: string; docker?: Docker }): Docker {
  return options.docker ?? new Docker(options.socketPath ? { socketPath: options.socketPath } : undefined);
}

export function isNotFound(err: unknown): boolean {
  return (err as { statusCode?: number } | null)?.statusCode === 404;
}

async function findNetwork(docker: Docker, name: string): Promise<NetworkInfo | undefined> {
  const all = (await docker.listNetworks({ filters: { name: [name] } })) as NetworkInfo[];
  return all.find((n) => n.Name === name); // the name filter matches substrings
}

function checkSubnet(found: NetworkInfo, spec: DockerNetworkSpec): void {
  const config = found.IPAM?.Config?.[0];
  if (config?.Subnet !== spec.subnet || (config.Gateway && config.Gateway !== spec.gateway)) {
    throw new Error(
      `Docker network '${spec.name}' exists with subnet ${config?.Subnet ?? 'none'} gateway ${config?.Gateway ?? 'none'}, ` +
        `expected ${spec.subnet} gateway ${spec.gateway}; remove it with 'docker network rm ${spec.name}'`,
    );
  }
}

/**
 * Creates the bridge network unless it exists (idempotent; the gateway address is on the host as soon
 * as this returns). Fails when a network of that name exists with another subnet.
 */
export async function ensureNetwork(options: EnsureNetworkOptions = {}): Promise<DockerNetworkSpec & { id: string }> {
  const docker = dockerFor(options);
  const name = options.name ?? DEFAULT_NETWORK.name;
  const isDefault = name === DEFAULT_NETWORK.name;
  const spec: DockerNetworkSpec = {
    name,
    subnet: options.subnet ?? DEFAULT_NETWORK.subnet,
    gateway: options.gateway ?? DEFAULT_NETWORK.gateway,
    bridgeName: options.bridgeName ?? (isDefault ? DEFAULT_NETWORK.bridgeName : undefined),
  };
  let found = await findNetwork(docker, name);
  if (!found) {
    try {
      await docker.createNetwork({
        Name: name,
        Driver: 'bridge',
        CheckDuplicate: true,
        IPAM: { Driver: 'default', Config: [{ Subnet: spec.subnet, Gateway: spec.gateway }] },
        Options: spec.bridgeName ? { 'com.docker.network.bridge.name': spec.bridgeName } : {},
        Labels: { 'capstan.network': 'true' },
      });
    } catch (err) {
      // someone else created it in the meantime: fine if it is the same network
      if ((err as { statusCode?: number }).statusCode !== 409) throw err;
    }
    found = await findNetwork(docker, name);
    if (!found) throw new Error(`Docker network '${name}' could not be created`);
  }
  checkSubnet(found, spec);
  return { ...spec, id: found.Id };
}

/** Removes the network; a network that does not exist is not an error. */
export async function removeNetwork(name: string, options: { socketPath?: string; docker?: Docker } = {}): Promise<void> {
  try {
    await dockerFor(options).getNetwork(name).remove();
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
