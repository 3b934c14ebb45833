export { createRelease, type CreateReleaseOptions, type CreatedRelease } from './create.js';
export { readReleaseTarball, readJobArchive, safeExtract, type ReadReleaseOptions, type ReadJobOptions } from './tarball.js';
export { parseJobSpec, parsePackageSpec, type JobSpec, type PackageSpec } from './spec.js';
export { ReleaseError } from './errors.js';
export * from './types.js';
export { finalizeRelease, type FinalizeReleaseOptions, type FinalizedRelease } from './finalize.js';
export { releaseBlobstore } from './blobstore.js';
