// The logger: pino JSON lines, written synchronously so nothing is lost when hotreload exits.
// Tests pass their own destination stream and read the records back.
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.js';
import { errorFields } from './errors.js';

export type { Logger };

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { name: 'hotreload' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // `err` holds errorFields() (code, message, hint); pino's default serializer would turn
      // that plain object into {type: "Object", stack: ""}. An Error passed by mistake gets the
      // same fields, never its stack or properties.
      serializers: { err: (err: unknown) => (err instanceof Error ? errorFields(err) : err) },
      // Defence in depth: header values never reach a log record even if passed by mistake.
      redact: {
        paths: ['headers', '*.headers', 'authorization', '*.authorization'],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
