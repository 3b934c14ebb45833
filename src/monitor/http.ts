// The monitor's HTTP API (health-monitor.md A.1), bound to loopback by default: /healthz, the
// per-deployment counts (503 until the first director sync) and Prometheus /metrics.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Agent, AgentRegistry } from './agents.js';

export interface HttpState {
  registry: AgentRegistry;
  metrics: Registry;
  agentTimeoutMs: number;
  /** When the 1 s pulse last ticked (ms). */
  lastPulse(): number;
  synced(): boolean;
}

const PULSE_STALE_MS = 180_000;

export async function startHttp(host: string, port: number, state: HttpState): Promise<{ app: FastifyInstance; port: number }> {
  const app = Fastify({ logger: false });
  const { registry } = state;

  app.get('/healthz', async (_req, reply) => {
    const stale = Date.now() - state.lastPulse() > PULSE_STALE_MS;
    return reply.code(stale ? 500 : 200).send(stale ? 'pulse is stale' : 'ok');
  });

  const counts = (path: string, predicate: (a: Agent, now: number) => boolean, withUnmanaged = false) =>
    app.get(path, async (_req, reply) => {
      if (!state.synced()) return reply.code(503).send('Not ready: waiting for the first director sync');
      const now = Date.now();
      return reply.send(registry.countBy((a) => predicate(a, now), withUnmanaged));
    });
  counts('/unresponsive_agents', (a, now) => a.isTimedOut(now, state.agentTimeoutMs));
  counts('/unhealthy_agents', (a) => a.jobState === 'running' && a.numberOfProcesses === 0);
  counts('/total_available_agents', () => true, true);
  counts('/failing_instances', (a) => a.jobState === 'failing');
  counts('/stopped_instances', (a) => a.jobState === 'stopped');
  counts('/unknown_instances', (a) => a.jobState === null || a.jobState === 'unknown');

  app.get('/metrics', async (_req, reply) => reply.type(state.metrics.contentType).send(await state.metrics.metrics()));

  await app.listen({ host, port });
  const address = app.server.address();
  return { app, port: typeof address === 'object' && address ? address.port : port };
}
