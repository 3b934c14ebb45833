// stemcell.MF (director-api.md §13).
export interface StemcellManifest {
  name: string;
  version: string;
  operating_system: string;
  sha1: string; // of the image file
  api_version?: number;
  stemcell_formats?: string[];
  cloud_properties?: Record<string, unknown>;
}
