export { parseDeploymentManifest, effectiveUpdate } from './deployment.js';
export { parseCloudConfig, ipToInt, cidrBounds, ipRange } from './cloud-config.js';
export * from './types.js';
