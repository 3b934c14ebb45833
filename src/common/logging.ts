// One pino logger factory for every process; redaction happens here, at the logger, so no
// caller can forget it.
import { pino, type Logger, type DestinationStream } from 'pino';
import { redactText, redactValue } from './redact.js';

export type { Logger };

export function createLogger(name: string, destination?: DestinationStream, level = process.env.CAPSTAN_LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      name,
      level,
      base: { pid: process.pid },
      hooks: {
        logMethod(args, method) {
          const cleaned = args.map((a) => (typeof a === 'string' ? redactText(a) : redactValue(a)));
          return method.apply(this, cleaned as Parameters<typeof method>);
        },
      },
    },
    destination ?? pino.destination(2),
  );
}
