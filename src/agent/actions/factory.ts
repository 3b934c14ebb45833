// Method name -> action (agent-protocol.md §2). A fresh action per request, so cancellable actions
// keep their cancel state per task.
import type { ActionFactory } from '../mbus/dispatcher.js';
import type { AgentServices } from '../services.js';
import type { Action } from './action.js';
import { ApplyAction } from './apply.js';
import { CancelTaskAction } from './cancel-task.js';
import { CompilePackageAction, CompilePackageWithSignedUrlAction } from './compile-package.js';
import { DeleteArpEntriesAction } from './delete-arp-entries.js';
import { diskActionBuilders } from './disks.js';
import { DrainAction } from './drain.js';
import { BundleLogsAction, FetchLogsAction, FetchLogsWithSignedUrlAction } from './fetch-logs.js';
import { GetStateAction } from './get-state.js';
import { GetTaskAction } from './get-task.js';
import { InfoAction } from './info.js';
import { PingAction } from './ping.js';
import { PrepareAction } from './prepare.js';
import { RemoveFileAction } from './remove-file.js';
import { RunErrandAction } from './run-errand.js';
import { RunScriptAction } from './run-script.js';
import { ShutdownAction } from './shutdown.js';
import { SshAction } from './ssh.js';
import { SyncDnsAction, SyncDnsWithSignedUrlAction } from './sync-dns.js';
import { UpdateSettingsAction } from './update-settings.js';
import { UploadBlobAction } from './upload-blob.js';
import { StartAction } from './start.js';
import { StopAction } from './stop.js';

export function createActionFactory(services: AgentServices): ActionFactory {
  const builders: Record<string, () => Action> = {
    ping: () => new PingAction(),
    info: () => new InfoAction(),
    get_task: () => new GetTaskAction(services.tasks),
    cancel_task: () => new CancelTaskAction(services.tasks),
    get_state: () => new GetStateAction(services),
    prepare: () => new PrepareAction(services),
    apply: () => new ApplyAction(services),
    start: () => new StartAction(services),
    stop: () => new StopAction(services),
    drain: () => new DrainAction(services),
    run_script: () => new RunScriptAction(services),
    run_errand: () => new RunErrandAction(services),
    compile_package: () => new CompilePackageAction(services),
    compile_package_with_signed_url: () => new CompilePackageWithSignedUrlAction(services),
    fetch_logs: () => new FetchLogsAction(services),
    fetch_logs_with_signed_url: () => new FetchLogsWithSignedUrlAction(services),
    bundle_logs: () => new BundleLogsAction(services),
    ssh: () => new SshAction(services),
    ...diskActionBuilders(services),
    update_settings: () => new UpdateSettingsAction(services),
    upload_blob: () => new UploadBlobAction(services),
    sync_dns: () => new SyncDnsAction(services),
    sync_dns_with_signed_url: () => new SyncDnsWithSignedUrlAction(services),
    delete_arp_entries: () => new DeleteArpEntriesAction(services),
    remove_file: () => new RemoveFileAction(),
    shutdown: () => new ShutdownAction(services.logger),
  };
  return {
    // Own properties only: "constructor" or "toString" are unknown methods, not Object internals.
    create: (method) => (Object.hasOwn(builders, method) ? builders[method]() : undefined),
  };
}
