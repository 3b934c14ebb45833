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
