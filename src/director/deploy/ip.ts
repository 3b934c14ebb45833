// IPv4 arithmetic for manual networks: which addresses of a cloud-config subnet may be handed out.
import type { CloudConfigSubnet } from '../../manifest/types.js';

export function ipToInt(ip: string): number {
  const parts = ip.trim().split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new Error(`Invalid IP address '${ip}'`);
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function intToIp(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

export interface SubnetRange {
  network: number;
  broadcast: number;
  prefix: number;
  netmask: string;
}

export function parseCidr(range: string): SubnetRange {
  const [address, prefixText] = range.trim().split('/');
  const prefix = Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new Error(`Invalid subnet range '${range}'`);
  const size = 2 ** (32 - prefix);
  const network = Math.floor(ipToInt(address) / size) * size;
  const mask = 2 ** 32 - size;
  return { network, broadcast: network + size - 1, prefix, netmask: intToIp(mask) };
}

/** Expands cloud-config IP lists: single addresses and "a - b" ranges (inclusive). */
export function expandIps(entries: string[] | undefined): number[] {
  const result: number[] = [];
  for (const entry of entries ?? []) {
    const [from, to] = entry.split('-').map((s) => s.trim());
    const start = ipToInt(from);
    const end = to === undefined ? start : ipToInt(to);
    for (let ip = start; ip <= end; ip++) result.push(ip);
  }
  return result;
}

/** Addresses never given to an instance dynamically: network, broadcast, gateway, reserved, static. */
export function unavailableIps(subnet: CloudConfigSubnet): Set<number> {
  const range = parseCidr(subnet.range);
  return new Set([range.network, range.broadcast, ipToInt(subnet.gateway), ...expandIps(subnet.reserved), ...expandIps(subnet.static)]);
}

/** The first address of the subnet that is neither unavailable nor taken, or null when it is full. */
export function firstFreeIp(subnet: CloudConfigSubnet, taken: Set<number>): number | null {
  const range = parseCidr(subnet.range);
  const excluded = unavailableIps(subnet);
  for (let ip = range.network + 1; ip < range.broadcast; ip++) {
    if (!excluded.has(ip) && !taken.has(ip)) return ip;
  }
  return null;
}

export function subnetContains(subnet: CloudConfigSubnet, ip: number): boolean {
  const range = parseCidr(subnet.range);
  return ip > range.network && ip < range.broadcast;
}

/** Subnets an instance in `az` may use (a subnet without az restriction serves every az). */
export function subnetsForAz(subnets: CloudConfigSubnet[], az: string | null): CloudConfigSubnet[] {
  return subnets.filter((s) => {
    const azs = s.azs ?? (s.az ? [s.az] : []);
    return az === null || azs.length === 0 || azs.includes(az);
  });
}
