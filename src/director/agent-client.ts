// PLACEHOLDER: the deploy helper replaces this file with the NATS agent client.
export interface AgentClient {
  agentId: string;
  /** Sync or async method; async results are awaited by polling get_task every second. */
  call<T = unknown>(method: string, args?: unknown[], options?: { timeoutMs?: number }): Promise<T>;
  /** Publish without waiting for a reply (shutdown, delete_arp_entries). */
  send(method: string, args?: unknown[]): void;
}

export interface AgentClientFactory {
  forAgent(agentId: string): AgentClient;
  /** Pings until the agent answers or the timeout passes. */
  waitUntilReady(agentId: string, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}
