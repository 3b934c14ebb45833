// Disk actions (§2.12); the mount semantics per platform are in platform/disks.ts.
import type { AgentServices } from '../services.js';
import { stringArg, type Action } from './action.js';

abstract class DiskAction implements Action {
  abstract readonly name: string;
  abstract readonly isAsynchronous: boolean;
  abstract readonly requiredArgs: number;
  constructor(protected readonly services: AgentServices) {}
  abstract run(args: unknown[]): Promise<unknown>;
}

/** Async only for protocol >= 3, like bosh-agent. */
export class ListDiskAction extends DiskAction {
  readonly name = 'list_disk';
  readonly isAsynchronous = false;
  readonly asyncFromProtocol = 3;
  readonly requiredArgs = 0;
  async run(): Promise<string[]> {
    return this.services.disks.listMounted();
  }
}

export class MountDiskAction extends DiskAction {
  readonly name = 'mount_disk';
  readonly isAsynchronous = true;
  readonly requiredArgs = 1;
  async run(args: unknown[]): Promise<Record<string, never>> {
    await this.services.disks.mount(stringArg(args, 0));
    return {};
  }
}

export class UnmountDiskAction extends DiskAction {
  readonly name = 'unmount_disk';
  readonly isAsynchronous = true;
  readonly requiredArgs = 1;
  async run(args: unknown[]): Promise<{ message: string }> {
    return this.services.disks.unmount(stringArg(args, 0));
  }
}

export class MigrateDiskAction extends DiskAction {
  readonly name = 'migrate_disk';
  readonly isAsynchronous = true;
  readonly requiredArgs = 0;
  async run(): Promise<Record<string, never>> {
    await this.services.disks.migrate();
    return {};
  }
}

export class AddPersistentDiskAction extends DiskAction {
  readonly name = 'add_persistent_disk';
  readonly isAsynchronous = true;
  readonly requiredArgs = 2;
  async run(args: unknown[]): Promise<Record<string, never>> {
    await this.services.disks.addHint(stringArg(args, 0), args[1]);
    return {};
  }
}

export class RemovePersistentDiskAction extends DiskAction {
  readonly name = 'remove_persistent_disk';
  readonly isAsynchronous = true;
  readonly requiredArgs = 1;
  async run(args: unknown[]): Promise<Record<string, never>> {
    await this.services.disks.removeHint(stringArg(args, 0));
    return {};
  }
}

export class AddDynamicDiskAction extends DiskAction {
  readonly name = 'add_dynamic_disk';
  readonly isAsynchronous = true;
  readonly requiredArgs = 2;
  async run(args: unknown[]): Promise<Record<string, never>> {
    await this.services.disks.addDynamic(stringArg(args, 0), args[1]);
    return {};
  }
}

export class RemoveDynamicDiskAction extends DiskAction {
  readonly name = 'remove_dynamic_disk';
  readonly isAsynchronous = false;
  readonly requiredArgs = 1;
  async run(args: unknown[]): Promise<Record<string, never>> {
    await this.services.disks.removeDynamic(stringArg(args, 0));
    return {};
  }
}
