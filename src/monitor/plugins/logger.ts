// `logger`: every event as a log line, "[ALERT] <text>" or the event's JSON (`format: json`).
import { z } from 'zod';
import { definePlugin } from './plugin.js';

export const loggerPlugin = definePlugin({
  options: z.object({ format: z.enum(['text', 'json']).default('text') }),
  create(options, ctx) {
    return {
      process(event) {
        ctx.logger.info(options.format === 'json' ? event.toJson() : `[${event.kind.toUpperCase()}] ${event.toString()}`);
      },
    };
  },
});
