// The conformance suite's external CPI executable: the dummy CPI behind the JSON protocol
// (`test-cpi.ts <config.json>`, one request on stdin). Config: {base_dir, agent_bundle, agent, api_version?}.
import { readFileSync } from 'node:fs';
import { DummyCpi } from '../../../src/cpi/dummy/dummy-cpi.js';
import { serveCpiRequest } from '../../../src/cpi/serve.js';
import type { CpiAgentConfig } from '../../../src/cpi/cpi.js';

interface TestCpiConfig {
  base_dir: string;
  agent_bundle: string;
  agent: CpiAgentConfig;
  /** Reported by info: 1 makes the director speak API version 1. */
  api_version?: number;
}

const config = JSON.parse(readFileSync(process.argv[2], 'utf8')) as TestCpiConfig;

await serveCpiRequest((logger) => {
  const cpi = new DummyCpi({ baseDir: config.base_dir, agent: config.agent, agentBundlePath: config.agent_bundle, logger });
  const info = cpi.info.bind(cpi);
  cpi.info = async () => ({ ...(await info()), api_version: config.api_version ?? 2 });
  return cpi;
});
