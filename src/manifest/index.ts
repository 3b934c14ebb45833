export { parseDeploymentManifest, effectiveUpdate, manifestPlaceholders, type ParseOptions } from './deployment.js';
export { interpolate, placeholders, variableName } from './interpolate.js';
export { parseCloudConfig, ipToInt, cidrBounds, ipRange } from './cloud-config.js';
export * from './types.js';
export { parseRuntimeConfig, applyAddons, ruleMatches, type Addon, type AddonRule, type RuntimeConfig } from './runtime-config.js';
