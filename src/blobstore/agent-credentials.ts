// Per-VM credentials for the embedded blob server. Each agent gets its own DAV user
// `agent-<agent_id>` with password HMAC-SHA256(director secret, agent_id): the blob server checks
// them without storing anything, a VM's credential is useless to every other VM, and the
// director revokes it by forgetting the VM (the server asks whether the agent still has a VM).
// Basic credentials instead of signed URLs: the agent's dav provider keeps working unchanged for
// the blobs it uploads under ids it chooses itself (compile_package, fetch_logs).
import { createHmac } from 'node:crypto';
import type { BlobstoreSettings } from '../common/protocol.js';

const USER_PREFIX = 'agent-';
/** Domain separation: the director's blobstore password keys this HMAC and nothing else of its kind. */
const HMAC_CONTEXT = 'capstan-blobstore-agent-credential:';

export interface AgentBlobCredential {
  user: string;
  password: string;
}

export function agentBlobstoreCredential(secret: string, agentId: string): AgentBlobCredential {
  return { user: `${USER_PREFIX}${agentId}`, password: createHmac('sha256', secret).update(HMAC_CONTEXT + agentId).digest('base64url') };
}

/** The agent id a blobstore user names, or null when it is not an agent user. */
export function agentIdOfUser(user: string): string | null {
  return user.startsWith(USER_PREFIX) && user.length > USER_PREFIX.length ? user.slice(USER_PREFIX.length) : null;
}

/** The `dav` blobstore settings of one VM: endpoint, its own credential and the CA of the blob server. */
export function agentBlobstoreSettings(endpoint: string, caPem: string, credential: AgentBlobCredential): BlobstoreSettings {
  return { provider: 'dav', options: { endpoint, user: credential.user, password: credential.password, tls: { cert: { ca: caPem } } } };
}
