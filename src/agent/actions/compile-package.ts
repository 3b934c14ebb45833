import type { CompileDependency, CompileResult } from '../../common/protocol.js';
import type { AgentServices } from '../services.js';
import { objectArg, stringArg, type Action } from './action.js';

/** Args: blobstore_id, digest, name, version, deps (§2.9). */
export class CompilePackageAction implements Action {
  readonly name = 'compile_package';
  readonly isAsynchronous = true;
  readonly requiredArgs = 5;

  constructor(private readonly services: AgentServices) {}

  async run(args: unknown[]): Promise<CompileResult> {
    return this.services.compiler.compile({
      blobstoreId: stringArg(args, 0),
      digest: stringArg(args, 1),
      name: stringArg(args, 2),
      version: stringArg(args, 3),
      deps: objectArg<Record<string, CompileDependency>>(args, 4, 'boshcomp.Dependencies'),
    });
  }
}

interface SignedCompileRequest {
  package_get_signed_url?: string;
  upload_signed_url?: string;
  blobstore_headers?: Record<string, string>;
  digest?: string;
  name?: string;
  version?: string;
  deps?: Record<string, CompileDependency & { package_get_signed_url?: string; blobstore_headers?: Record<string, string> }>;
}

/** Downloads source and deps by HTTP GET, uploads by HTTP PUT; result `{"result":{"sha1"}}` (§2.9). */
export class CompilePackageWithSignedUrlAction implements Action {
  readonly name = 'compile_package_with_signed_url';
  readonly isAsynchronous = true;
  readonly requiredArgs = 1;

  constructor(private readonly services: AgentServices) {}

  async run(args: unknown[]): Promise<unknown> {
    const req = objectArg<SignedCompileRequest>(args, 0, 'action.CompilePackageWithSignedURLRequest');
    const headers = req.blobstore_headers ?? {};
    const deps: Record<string, CompileDependency & { signed_url?: string; blobstore_headers?: Record<string, string> }> = {};
    for (const [name, dep] of Object.entries(req.deps ?? {})) {
      deps[name] = { ...dep, signed_url: dep.package_get_signed_url, blobstore_headers: dep.blobstore_headers ?? headers };
    }
    return this.services.compiler.compile({
      blobstoreId: '',
      digest: req.digest ?? '',
      name: req.name ?? '',
      version: req.version ?? '',
      deps,
      sourceSignedUrl: { url: req.package_get_signed_url ?? '', headers },
      uploadSignedUrl: { url: req.upload_signed_url ?? '', headers },
    });
  }
}
