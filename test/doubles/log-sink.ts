// A pino logger whose records land in an array, for asserting on what was logged.
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/lib/log.js';

export interface LogRecord {
  level: string;
  msg: string;
  [key: string]: unknown;
}

export function logSink(): { log: Logger; records: LogRecord[]; text: () => string } {
  const records: LogRecord[] = [];
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        lines.push(line);
        records.push(JSON.parse(line) as LogRecord);
      }
      done();
    },
  });
  return { log: createLogger('trace', stream), records, text: () => lines.join('\n') };
}
