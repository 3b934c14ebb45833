// Cloud properties handed to create_vm: the AZ's, then the vm_type's, then each vm_extension's
// (later ones win on conflicting keys).
import type { CloudConfig, InstanceGroup } from '../../manifest/types.js';
import type { CloudProperties } from '../../cpi/cpi.js';

function azProperties(cloudConfig: CloudConfig, az: string | null | undefined): CloudProperties {
  return (az ? cloudConfig.azs.find((a) => a.name === az)?.cloud_properties : undefined) ?? {};
}

function vmTypeProperties(cloudConfig: CloudConfig, name: string | undefined, owner: string): CloudProperties {
  if (!name) return {};
  const vmType = cloudConfig.vm_types.find((t) => t.name === name);
  if (!vmType) throw new Error(`${owner} references unknown vm_type '${name}'`);
  return vmType.cloud_properties ?? {};
}

export function instanceCloudProperties(cloudConfig: CloudConfig, group: InstanceGroup, az: string | null): CloudProperties {
  const extensions = (group.vm_extensions ?? []).map((name) => {
    const extension = cloudConfig.vm_extensions.find((e) => e.name === name);
    if (!extension) throw new Error(`Instance group '${group.name}' references unknown vm_extension '${name}'`);
    return extension.cloud_properties ?? {};
  });
  return Object.assign(
    {},
    azProperties(cloudConfig, az),
    vmTypeProperties(cloudConfig, group.vm_type, `Instance group '${group.name}'`),
    ...extensions,
  );
}

export function compilationCloudProperties(cloudConfig: CloudConfig): CloudProperties {
  const { compilation } = cloudConfig;
  return {
    ...azProperties(cloudConfig, compilation.az),
    ...(compilation.cloud_properties ?? vmTypeProperties(cloudConfig, compilation.vm_type, 'Compilation')),
  };
}
