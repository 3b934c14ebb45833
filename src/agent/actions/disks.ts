// Disk actions (§2.12): one table of method -> (nature, arity, DiskManager call); the mount semantics
// per platform are in platform/disks.ts.
import type { DiskManager } from '../platform/disks.js';
import type { AgentServices } from '../services.js';
import { stringArg, type Action } from './action.js';

interface DiskActionSpec {
  isAsynchronous: boolean;
  /** list_disk is async only for protocol >= 3, like bosh-agent. */
  asyncFromProtocol?: number;
  requiredArgs: number;
  run(disks: DiskManager, args: unknown[]): Promise<unknown>;
}

/** Most disk actions answer `{}` once the DiskManager call is done. */
const empty = (call: (disks: DiskManager, args: unknown[]) => Promise<void>) => async (disks: DiskManager, args: unknown[]) => {
  await call(disks, args);
  return {};
};

const DISK_ACTIONS: Record<string, DiskActionSpec> = {
  list_disk: { isAsynchronous: false, asyncFromProtocol: 3, requiredArgs: 0, run: (disks) => disks.listMounted() },
  mount_disk: { isAsynchronous: true, requiredArgs: 1, run: empty((disks, args) => disks.mount(stringArg(args, 0))) },
  unmount_disk: { isAsynchronous: true, requiredArgs: 1, run: (disks, args) => disks.unmount(stringArg(args, 0)) },
  // The director sends the old and new disk CIDs; bosh-agent ignores them (§1.3).
  migrate_disk: { isAsynchronous: true, requiredArgs: 0, run: empty((disks) => disks.migrate()) },
  add_persistent_disk: { isAsynchronous: true, requiredArgs: 2, run: empty((disks, args) => disks.addHint(stringArg(args, 0), args[1])) },
  remove_persistent_disk: { isAsynchronous: true, requiredArgs: 1, run: empty((disks, args) => disks.removeHint(stringArg(args, 0))) },
  add_dynamic_disk: { isAsynchronous: true, requiredArgs: 2, run: empty((disks, args) => disks.addDynamic(stringArg(args, 0), args[1])) },
  remove_dynamic_disk: { isAsynchronous: false, requiredArgs: 1, run: empty((disks, args) => disks.removeDynamic(stringArg(args, 0))) },
};

/** Builders for the factory: method name -> a fresh disk action. */
export function diskActionBuilders(services: AgentServices): Record<string, () => Action> {
  const builders: Record<string, () => Action> = {};
  for (const [name, spec] of Object.entries(DISK_ACTIONS)) {
    builders[name] = () => ({
      name,
      isAsynchronous: spec.isAsynchronous,
      asyncFromProtocol: spec.asyncFromProtocol,
      requiredArgs: spec.requiredArgs,
      run: (args) => spec.run(services.disks, args),
    });
  }
  return builders;
}
