// Networks for get_state: the spec's networks, with DHCP/dynamic networks filled from the settings
// or, when the settings do not know the address either, from the VM's first non-internal IPv4 (§5.3).
import { networkInterfaces } from 'node:os';
import type { NetworkSettings } from '../../common/protocol.js';

export function isDhcp(net: NetworkSettings): boolean {
  if (net.type === 'dynamic' || net.use_dhcp) return true;
  return net.type !== 'vip' && (Boolean(net.resolved) || !net.ip || !net.netmask);
}

export function defaultIPv4(): { ip: string; netmask: string } | undefined {
  for (const addrs of Object.values(networkInterfaces())) {
    const found = (addrs ?? []).find((a) => a.family === 'IPv4' && !a.internal);
    if (found) return { ip: found.address, netmask: found.netmask };
  }
  return undefined;
}

/** Resolves every spec network against the settings; throws for a network the VM does not have. */
export function resolveSpecNetworks(
  specNetworks: Record<string, NetworkSettings>,
  settingsNetworks: Record<string, NetworkSettings>,
): Record<string, NetworkSettings> {
  const out: Record<string, NetworkSettings> = {};
  for (const [name, net] of Object.entries(specNetworks)) {
    if (name === 'local' && net.ip === '127.0.0.1') {
      out[name] = net;
      continue;
    }
    const fromSettings = settingsNetworks[name];
    if (!fromSettings) throw new Error(`Network '${name}' is not found in settings`);
    if (!isDhcp(net)) {
      out[name] = net;
      continue;
    }
    const detected = fromSettings.ip ? undefined : defaultIPv4();
    out[name] = {
      ...net,
      ip: fromSettings.ip ?? detected?.ip,
      netmask: fromSettings.netmask ?? detected?.netmask,
      gateway: fromSettings.gateway ?? net.gateway,
    };
  }
  return out;
}
