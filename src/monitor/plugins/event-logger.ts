// `event_logger`: records every alert as a director event (`POST /events`), so `bosh events`
// shows what the monitor saw.
import { z } from 'zod';
import { DirectorAccess } from '../config.js';
import { DirectorClient } from '../director-client.js';
import { AlertEvent } from '../events/alert.js';
import { definePlugin } from './plugin.js';

export const eventLoggerPlugin = definePlugin({
  options: z.object({ director: DirectorAccess.optional() }),
  create(options, ctx) {
    const director = options.director ? new DirectorClient(options.director) : ctx.director;
    return {
      async process(event) {
        if (!(event instanceof AlertEvent)) return;
        const body = {
          timestamp: event.createdAt,
          action: 'create',
          object_type: 'alert',
          object_name: event.id,
          deployment: event.deployment ?? undefined,
          instance: event.job && event.instanceId ? `${event.job}/${event.instanceId}` : undefined,
          context: { message: `${event.title}. ${event.toString()}` },
        };
        const res = await director.request('POST', '/events', body);
        if (res.status < 200 || res.status > 299) throw new Error(`POST /events: director responded ${res.status}`);
      },
      stop() {
        if (director !== ctx.director) director.close();
      },
    };
  },
});
