/**
 * Loaded with `node --import @memegraph/service-kit/tracing-preload` before a
 * service's own modules (scripts/start.ts, the packages' start scripts, the
 * image's entrypoint do so). With tracing off (no OTEL_* settings, see
 * tracing-sdk.ts) it reads the environment and loads nothing else. With it
 * on, it hooks the module loader first (import-in-the-middle, for the
 * modules the instrumentations patch: ESM imports of pg, ioredis and http
 * are not seen by require hooks), then starts tracing.
 */
import { register } from 'node:module';
import { tracingSettings } from './tracing-settings';

const settings = tracingSettings(process.env);
if (settings) {
  const { createAddHookMessageChannel } = await import('import-in-the-middle');
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  const { startTracing } = await import('./tracing-sdk');
  startTracing(settings);
  await waitForAllMessagesAcknowledged();
}
