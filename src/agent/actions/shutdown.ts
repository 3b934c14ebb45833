import type { Logger } from '../../common/logging.js';
import type { Action } from './action.js';

/**
 * bosh-agent runs `shutdown -P 0`. Capstan VMs are containers or local processes whose lifetime the
 * CPI owns (delete_vm), so this is a logged no-op; the director does not wait for the answer.
 */
export class ShutdownAction implements Action {
  readonly name = 'shutdown';
  readonly isAsynchronous = false;
  readonly requiredArgs = 0;

  constructor(private readonly logger: Logger) {}

  async run(): Promise<string> {
    this.logger.info('shutdown requested: no-op (the CPI owns the VM lifetime)');
    return '';
  }
}
