// `graphite`: heartbeat metrics as plaintext lines
// `[prefix.]deployment.job.instance_id.agent_id.<metric_with_underscores> value timestamp`.
import { z } from 'zod';
import { HeartbeatEvent } from '../events/heartbeat.js';
import { definePlugin } from './plugin.js';
import { TcpSender } from './tcp-line-sender.js';

export const graphitePlugin = definePlugin({
  options: z.object({
    host: z.string().min(1),
    port: z.number().int().positive(),
    prefix: z.string().optional(),
    max_retries: z.number().int().min(-1).default(35),
  }),
  create(options, ctx) {
    const sender = new TcpSender('graphite', options.host, options.port, options.max_retries, ctx.logger);
    const prefix = options.prefix ? `${options.prefix}.` : '';
    return {
      run: () => sender.start(),
      process(event) {
        if (!(event instanceof HeartbeatEvent)) return;
        const base = `${prefix}${event.deployment}.${event.job}.${event.instanceId}.${event.agentId}`;
        const ts = /^\d{10}$/.test(String(event.timestamp)) ? event.timestamp : Math.floor(Date.now() / 1000);
        let lines = '';
        for (const m of event.metrics) lines += `${base}.${m.name.replace(/\./g, '_')} ${m.value} ${ts}\n`;
        if (lines) sender.write(lines);
      },
      stop: () => sender.stop(),
    };
  },
});
