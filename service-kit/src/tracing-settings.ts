/**
 * Whether a process traces, read from its environment (the standard OTEL_*
 * variables, see tracing-sdk.ts) without loading the SDK: the preload asks
 * this first, so a process that does not trace loads nothing more.
 */
import path from 'node:path';

export interface TracingSettings {
  /** `service.name`: OTEL_SERVICE_NAME, or the service the process runs (router, users, memes, ai, ai-worker). */
  serviceName: string;
  /** Whether an incoming request's `traceparent` is continued (false: a new trace starts here). */
  trustIncomingContext: boolean;
}

const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];

/** The service a process runs, from its entry file (`router/dist/main.js`, `subgraphs/ai/src/worker-main.ts`, …). */
export function serviceOfEntry(entry: string | undefined): string | undefined {
  const match = entry
    ?.split(path.sep)
    .join('/')
    .match(/(router|users|memes|ai)\/(?:src|dist)\/(main|worker-main)\.[cm]?[jt]s$/);
  if (!match) return undefined;
  return match[2] === 'worker-main' ? `${match[1]}-worker` : match[1];
}

/**
 * Whether and how this process traces, from its environment: null when
 * tracing is off. Throws on a setting it cannot honour, as the services'
 * own configuration does.
 */
export function tracingSettings(env: NodeJS.ProcessEnv, entry = process.argv[1]): TracingSettings | null {
  const problems: string[] = [];
  const exporter = env.OTEL_TRACES_EXPORTER?.trim();
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true' || exporter === 'none') return null;
  if (exporter && exporter !== 'otlp') problems.push(`OTEL_TRACES_EXPORTER: must be otlp or none (got ${exporter})`);
  if (!exporter && !endpoint) return null;
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?.trim() || env.OTEL_EXPORTER_OTLP_PROTOCOL?.trim();
  if (protocol && protocol !== 'http/json')
    problems.push(`OTEL_EXPORTER_OTLP_PROTOCOL: spans are sent as OTLP/HTTP JSON, set http/json (got ${protocol})`);
  const sampler = env.OTEL_TRACES_SAMPLER?.trim();
  if (sampler && !SAMPLERS.includes(sampler))
    problems.push(`OTEL_TRACES_SAMPLER: must be one of ${SAMPLERS.join(', ')} (got ${sampler})`);
  const ratio = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  if (sampler?.endsWith('traceidratio') && ratio !== undefined && ratio !== '') {
    const value = Number(ratio);
    if (!(value >= 0 && value <= 1))
      problems.push(`OTEL_TRACES_SAMPLER_ARG: must be a ratio from 0 to 1 (got ${ratio})`);
  }
  const trust = env.TRACE_TRUST_CLIENT_TRACEPARENT?.trim().toLowerCase();
  if (trust && trust !== 'true' && trust !== 'false')
    problems.push(`TRACE_TRUST_CLIENT_TRACEPARENT: must be true or false (got ${trust})`);
  if (problems.length) throw new Error(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  const service = serviceOfEntry(entry);
  return {
    serviceName: env.OTEL_SERVICE_NAME?.trim() || service || 'memegraph',
    // Only the router takes requests from clients; subgraphs and the worker are called by the platform.
    trustIncomingContext: service !== 'router' || trust === 'true',
  };
}
