// `email`: events are queued and sent in batches every `interval` seconds, one mail per kind:
// subject "N alerts from BOSH Health Monitor", body the plain text of each event.
import nodemailer from 'nodemailer';
import { z } from 'zod';
import type { MonitorEvent } from '../events/event.js';
import { definePlugin } from './plugin.js';

export const emailPlugin = definePlugin({
  options: z.object({
    recipients: z.array(z.string().min(1)).min(1),
    smtp: z.object({
      from: z.string().min(1),
      host: z.string().min(1),
      port: z.number().int().positive(),
      domain: z.string().optional(),
      tls: z.boolean().default(false), // STARTTLS
      auth: z.enum(['plain', 'login']).optional(),
      user: z.string().optional(),
      password: z.string().optional(),
    }),
    interval: z.number().positive().default(10),
  }),
  create(options, ctx) {
    const smtp = options.smtp;
    const transport = nodemailer.createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: false,
      requireTLS: smtp.tls,
      ignoreTLS: !smtp.tls,
      name: smtp.domain,
      auth: smtp.user ? { user: smtp.user, pass: smtp.password ?? '', method: smtp.auth === 'login' ? 'LOGIN' : 'PLAIN' } : undefined,
    });
    const queues: Record<string, MonitorEvent[]> = { alert: [], heartbeat: [] };
    let timer: NodeJS.Timeout | undefined;

    const flush = async () => {
      for (const kind of Object.keys(queues)) {
        const events = queues[kind]!;
        if (events.length === 0) continue;
        queues[kind] = [];
        await transport.sendMail({
          from: smtp.from,
          to: options.recipients.join(', '),
          subject: `${events.length} ${kind}${events.length === 1 ? '' : 's'} from BOSH Health Monitor`,
          text: events.map((e) => e.toPlainText()).join('\n\n') + '\n',
        });
      }
    };
    const flushLogged = () => flush().catch((err: unknown) => ctx.logger.error(`email: sending failed: ${err instanceof Error ? err.message : String(err)}`));

    return {
      run() {
        timer = setInterval(flushLogged, options.interval * 1000);
      },
      process(event) {
        queues[event.kind]!.push(event);
      },
      async stop() {
        clearInterval(timer);
        await flushLogged();
        transport.close();
      },
    };
  },
});
