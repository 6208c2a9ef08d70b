import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs; credentials are redacted wherever they appear in a logged object. */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({
    name: service,
    level,
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
