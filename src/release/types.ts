// release.MF and job.MF as BOSH writes them (director-api.md §12).

export interface ReleaseManifestJob {
  name: string;
  version: string;
  fingerprint: string;
  sha1: string; // digest string of jobs/<name>.tgz
  packages?: string[];
}

export interface ReleaseManifestPackage {
  name: string;
  version: string;
  fingerprint: string;
  sha1: string; // digest string of packages/<name>.tgz
  dependencies: string[];
}

export interface ReleaseManifestCompiledPackage extends ReleaseManifestPackage {
  stemcell: string; // "<os>/<version>"
}

export interface ReleaseManifest {
  name: string;
  version: string;
  commit_hash: string;
  uncommitted_changes: boolean;
  jobs: ReleaseManifestJob[];
  packages: ReleaseManifestPackage[];
  compiled_packages?: ReleaseManifestCompiledPackage[];
  license?: { version: string; fingerprint: string; sha1: string };
}

export interface JobPropertySpec {
  description?: string;
  default?: unknown;
  example?: unknown;
}

export interface JobManifest {
  name: string;
  description?: string;
  templates: Record<string, string>; // src (in templates/) -> dest (relative to the job dir)
  packages: string[];
  properties: Record<string, JobPropertySpec>; // dotted names
  consumes?: Array<{ name: string; type: string; optional?: boolean }>;
  provides?: Array<{ name: string; type: string; properties?: string[] }>;
  logs?: Record<string, string>;
}
