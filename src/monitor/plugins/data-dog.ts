// `data_dog`: heartbeat metrics as Datadog series (`bosh.healthmonitor.<metric>`), batched and
// flushed every flush_interval seconds (one request per heartbeat would not scale), and alerts
// as Datadog events. Keys travel in headers, never in URLs.
import { z } from 'zod';
import { AlertEvent } from '../events/alert.js';
import { HeartbeatEvent } from '../events/heartbeat.js';
import { definePlugin } from './plugin.js';
import { expectSuccess } from './http-post.js';

interface Series {
  metric: string;
  points: [number, number][];
  tags: string[];
}

const MAX_BUFFERED = 100_000; // series points; beyond this the oldest batch is dropped

export const dataDogPlugin = definePlugin({
  options: z.object({
    api_key: z.string().min(1),
    application_key: z.string().min(1),
    pagerduty_service_name: z.string().optional(),
    custom_tags: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    endpoint: z.string().url().default('https://api.datadoghq.com'),
    flush_interval: z.number().positive().default(10),
  }),
  create(options, ctx) {
    const headers = { 'DD-API-KEY': options.api_key, 'DD-APPLICATION-KEY': options.application_key };
    const customTags = Object.entries(options.custom_tags).map(([k, v]) => `${k}:${v}`);
    let series: Series[] = [];
    let timer: NodeJS.Timeout | undefined;

    const flush = async () => {
      if (series.length === 0) return;
      const batch = series;
      series = [];
      await expectSuccess('POST', `${options.endpoint}/api/v1/series`, { series: batch }, headers);
    };
    const flushLogged = () => flush().catch((err: unknown) => ctx.logger.warn(`data_dog: sending metrics failed: ${err instanceof Error ? err.message : String(err)}`));

    const heartbeat = (hb: HeartbeatEvent) => {
      const tags = [`job:${hb.job}`, `index:${hb.index}`, `id:${hb.instanceId}`, `deployment:${hb.deployment}`, `agent:${hb.agentId}`, ...hb.teams.map((t) => `team:${t}`), ...customTags];
      for (const m of hb.metrics) series.push({ metric: `bosh.healthmonitor.${m.name}`, points: [[m.timestamp, Number(m.value)]], tags });
      if (series.length > MAX_BUFFERED) series.splice(0, series.length - MAX_BUFFERED);
    };

    const alert = async (a: AlertEvent) => {
      const normal = a.severity >= 1 && a.severity <= 3;
      const mention = normal && options.pagerduty_service_name ? ` @pagerduty-${options.pagerduty_service_name}` : '';
      const tags = [`source:${a.source ?? ''}`, ...(a.deployment ? [`deployment:${a.deployment}`] : []), ...customTags];
      await expectSuccess('POST', `${options.endpoint}/api/v1/events`, {
        title: a.title,
        text: `${a.summary}${mention}`,
        priority: normal ? 'normal' : 'low',
        alert_type: normal ? 'error' : 'warning',
        date_happened: a.createdAt,
        tags,
      }, headers);
    };

    return {
      run() {
        timer = setInterval(flushLogged, options.flush_interval * 1000);
      },
      process(event) {
        if (event instanceof HeartbeatEvent) return heartbeat(event);
        if (event instanceof AlertEvent) return alert(event);
      },
      async stop() {
        clearInterval(timer);
        await flushLogged();
      },
    };
  },
});
