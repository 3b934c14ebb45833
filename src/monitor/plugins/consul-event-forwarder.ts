// `consul_event_forwarder`: alerts (and heartbeats, with heartbeats_as_alerts) fired as Consul
// events `PUT /v1/event/fire/<namespace><name>`, and, with `ttl`, a TTL check per instance
// registered once and then passed / failed / warned from each heartbeat's job state.
// Payloads are slimmed to fit Consul's 512-byte event limit.
import { z } from 'zod';
import { AlertEvent } from '../events/alert.js';
import { HeartbeatEvent } from '../events/heartbeat.js';
import { definePlugin } from './plugin.js';
import { expectSuccess } from './http-post.js';

const CONSUL_EVENT_LIMIT = 512;

const snake = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');

function fit(payload: Record<string, unknown>, shrinkable: string): string {
  let text = JSON.stringify(payload);
  while (Buffer.byteLength(text) > CONSUL_EVENT_LIMIT && typeof payload[shrinkable] === 'string' && (payload[shrinkable] as string).length > 0) {
    const value = payload[shrinkable] as string;
    payload[shrinkable] = value.slice(0, Math.max(0, value.length - (Buffer.byteLength(text) - CONSUL_EVENT_LIMIT) - 3)) + '...';
    if ((payload[shrinkable] as string).length >= value.length) payload[shrinkable] = '';
    text = JSON.stringify(payload);
  }
  return text;
}

function heartbeatPayload(hb: HeartbeatEvent): string {
  const v = hb.vitals;
  return fit({
    agent: hb.agentId,
    name: `${hb.job}/${hb.instanceId}`,
    deployment: hb.deployment,
    state: hb.jobState,
    data: {
      cpu: [v.cpu?.user, v.cpu?.sys, v.cpu?.wait],
      mem: [v.mem?.percent, v.mem?.kb],
      swap: [v.swap?.percent, v.swap?.kb],
      load: v.load?.[0],
      disk: [v.disk?.system?.percent, v.disk?.ephemeral?.percent, v.disk?.persistent?.percent],
    },
  }, 'name');
}

function alertPayload(a: AlertEvent): string {
  return fit({ id: a.id, severity: a.severity, title: a.title, source: a.source, deployment: a.deployment, created_at: a.createdAt, summary: a.summary }, 'summary');
}

export const consulEventForwarderPlugin = definePlugin({
  options: z.object({
    host: z.string().min(1),
    port: z.number().int().positive().default(8500),
    protocol: z.enum(['http', 'https']).default('http'),
    namespace: z.string().default(''),
    params: z.string().default(''), // extra query string, e.g. "token=..."
    ttl: z.string().optional(), // e.g. "120s"
    ttl_note: z.string().default(''),
    events: z.boolean().default(false),
    heartbeats_as_alerts: z.boolean().default(false),
  }),
  create(options) {
    const base = `${options.protocol}://${options.host}:${options.port}`;
    const query = options.params ? `?${options.params}` : '';
    const registered = new Set<string>();

    const fire = (name: string, payload: string) => expectSuccess('PUT', `${base}/v1/event/fire/${options.namespace}${name}${query}`, payload);

    const updateCheck = async (hb: HeartbeatEvent) => {
      const check = `${options.namespace}${hb.job}_${hb.instanceId}`;
      if (!registered.has(check)) {
        await expectSuccess('PUT', `${base}/v1/agent/check/register${query}`, { Name: check, Notes: options.ttl_note, TTL: options.ttl });
        registered.add(check);
      }
      const status = hb.jobState === 'running' ? 'pass' : hb.jobState === 'failing' || hb.jobState === 'unknown' || hb.jobState === null ? 'fail' : 'warn';
      const sep = query ? '&' : '?';
      await expectSuccess('PUT', `${base}/v1/agent/check/${status}/${check}${query}${sep}note=${encodeURIComponent(`job_state: ${hb.jobState}`)}`, undefined);
    };

    return {
      async process(event) {
        if (event instanceof AlertEvent) {
          if (options.events) await fire(snake(event.title), alertPayload(event));
          return;
        }
        if (!(event instanceof HeartbeatEvent)) return;
        if (options.ttl) await updateCheck(event);
        if (options.events && options.heartbeats_as_alerts) await fire('heartbeat', heartbeatPayload(event));
      },
    };
  },
});
