// Cloud config parsing (director-api.md §5.2): schema, then references between its sections.
import type { CloudConfig, CloudConfigSubnet } from './types.js';
import { cloudConfig } from './schemas.js';
import { parseYamlMapping, validateAt, errorAt } from './validate.js';
import type { ParsedYaml } from '../common/yaml.js';

/** Parses a cloud config; any problem throws a ManifestError naming file, path and line. */
export function parseCloudConfig(text: string, file: string): CloudConfig {
  const parsed = parseYamlMapping(text, file);
  const config = validateAt(cloudConfig, parsed, file) as CloudConfig;
  checkReferences(config, parsed, file);
  return config;
}

export function ipToInt(ip: string): number | null {
  const parts = ip.trim().split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return null;
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

/** [first, last] of a CIDR range as integers. */
export function cidrBounds(range: string): [number, number] | null {
  const [ip, bits] = range.split('/');
  const base = ipToInt(ip);
  const prefix = Number(bits);
  if (base == null || !(prefix >= 0 && prefix <= 32)) return null;
  const size = 2 ** (32 - prefix);
  const first = base - (base % size);
  return [first, first + size - 1];
}

/** Parses "a.b.c.d" or "a.b.c.d - e.f.g.h" into an inclusive integer range. */
export function ipRange(entry: string): [number, number] | null {
  const [from, to] = entry.split('-');
  const a = ipToInt(from);
  const b = to === undefined ? a : ipToInt(to);
  return a == null || b == null || a > b ? null : [a, b];
}

function checkSubnet(subnet: CloudConfigSubnet, azs: Set<string>, parsed: ParsedYaml, file: string, at: Array<string | number>) {
  if (!subnet.range) throw errorAt(parsed, file, [...at, 'range'], "Required property 'range' was not specified");
  if (!subnet.gateway) throw errorAt(parsed, file, [...at, 'gateway'], "Required property 'gateway' was not specified");
  const bounds = cidrBounds(subnet.range);
  if (!bounds) throw errorAt(parsed, file, [...at, 'range'], `Invalid range '${subnet.range}'`);
  const gw = ipToInt(subnet.gateway);
  if (gw == null || gw < bounds[0] || gw > bounds[1]) {
    throw errorAt(parsed, file, [...at, 'gateway'], `Gateway '${subnet.gateway}' is not in range '${subnet.range}'`);
  }
  for (const key of ['reserved', 'static'] as const) {
    (subnet[key] ?? []).forEach((entry, i) => {
      const r = ipRange(entry);
      if (!r || r[0] < bounds[0] || r[1] > bounds[1]) {
        throw errorAt(parsed, file, [...at, key, i], `'${entry}' is not an IP or IP range inside '${subnet.range}'`);
      }
    });
  }
  const subnetAzs = subnet.azs ?? (subnet.az ? [subnet.az] : []);
  subnetAzs.forEach((az, i) => {
    if (!azs.has(az)) throw errorAt(parsed, file, [...at, subnet.azs ? 'azs' : 'az', ...(subnet.azs ? [i] : [])], `Unknown az '${az}'`);
  });
}

function checkReferences(config: CloudConfig, parsed: ParsedYaml, file: string): void {
  const azs = new Set(config.azs.map((a) => a.name));
  const networks = new Set<string>();
  config.networks.forEach((network, n) => {
    if (networks.has(network.name)) throw errorAt(parsed, file, ['networks', n, 'name'], `Duplicate network name '${network.name}'`);
    networks.add(network.name);
    if (network.type !== 'manual') return;
    if (!network.subnets?.length) throw errorAt(parsed, file, ['networks', n], `Manual network '${network.name}' needs at least one subnet`);
    network.subnets.forEach((subnet, s) => checkSubnet(subnet, azs, parsed, file, ['networks', n, 'subnets', s]));
  });
  const { compilation } = config;
  if (!networks.has(compilation.network)) {
    throw errorAt(parsed, file, ['compilation', 'network'], `Compilation network '${compilation.network}' is not defined in networks`);
  }
  if (compilation.az && !azs.has(compilation.az)) {
    throw errorAt(parsed, file, ['compilation', 'az'], `Compilation az '${compilation.az}' is not defined in azs`);
  }
  const vmTypes = new Set(config.vm_types.map((v) => v.name));
  if (compilation.vm_type && !vmTypes.has(compilation.vm_type)) {
    throw errorAt(parsed, file, ['compilation', 'vm_type'], `Compilation vm_type '${compilation.vm_type}' is not defined in vm_types`);
  }
}
