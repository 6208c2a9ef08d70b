import { pino, type Logger } from 'pino';
import { logContextFields } from './tracing';

export type { Logger };

/**
 * JSON logs; credentials are redacted wherever they appear in a logged object.
 * A line written while serving a request carries its `requestId`, and, when
 * the request is traced, the `trace_id` and `span_id` of the active span.
 */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({
    name: service,
    level,
    mixin: logContextFields,
    redact: {
      paths: [
        '*.authorization',
        '*.password',
        '*.secret',
        '*.token',
        '*["x-api-key"]',
        '*["x-memegraph-viewer"]',
        'apiKey',
      ],
      censor: '[redacted]',
    },
  });
}
