import { describe, expect, it } from 'vitest';
import { serviceOfEntry, tracingSettings } from './tracing-settings';

const ROUTER = '/app/router/dist/main.js';

describe('tracing settings', () => {
  it('are off unless an OTLP endpoint or exporter is set', () => {
    expect(tracingSettings({}, ROUTER)).toBeNull();
    expect(tracingSettings({ OTEL_TRACES_SAMPLER: 'always_on' }, ROUTER)).toBeNull();
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, ROUTER)).not.toBeNull();
    expect(tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp' }, ROUTER)).not.toBeNull();
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }, ROUTER)).not.toBeNull();
  });

  it('are off when the SDK is disabled or the exporter is none', () => {
    const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    expect(tracingSettings({ ...on, OTEL_SDK_DISABLED: 'true' }, ROUTER)).toBeNull();
    expect(tracingSettings({ ...on, OTEL_TRACES_EXPORTER: 'none' }, ROUTER)).toBeNull();
  });

  it('name the service from its entry file unless OTEL_SERVICE_NAME does', () => {
    const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    expect(tracingSettings(on, '/app/subgraphs/memes/dist/main.js')?.serviceName).toBe('memes');
    expect(tracingSettings(on, '/src/subgraphs/ai/src/worker-main.ts')?.serviceName).toBe('ai-worker');
    expect(tracingSettings({ ...on, OTEL_SERVICE_NAME: 'edge' }, ROUTER)?.serviceName).toBe('edge');
    expect(serviceOfEntry('/somewhere/else.js')).toBeUndefined();
  });

  it("continue a client's trace at the router only when told to; subgraphs always continue the router's", () => {
    const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    expect(tracingSettings(on, ROUTER)?.trustIncomingContext).toBe(false);
    expect(tracingSettings({ ...on, TRACE_TRUST_CLIENT_TRACEPARENT: 'true' }, ROUTER)?.trustIncomingContext).toBe(true);
    expect(tracingSettings(on, '/app/subgraphs/users/dist/main.js')?.trustIncomingContext).toBe(true);
  });

  it('refuse settings they cannot honour, each named', () => {
    const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    expect(() => tracingSettings({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, ROUTER)).toThrow(
      /OTEL_EXPORTER_OTLP_PROTOCOL: .*http\/json/,
    );
    expect(() => tracingSettings({ ...on, OTEL_TRACES_SAMPLER: 'sometimes' }, ROUTER)).toThrow(/OTEL_TRACES_SAMPLER:/);
    expect(() =>
      tracingSettings({ ...on, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '5' }, ROUTER),
    ).toThrow(/OTEL_TRACES_SAMPLER_ARG:/);
    expect(() => tracingSettings({ ...on, TRACE_TRUST_CLIENT_TRACEPARENT: 'yes' }, ROUTER)).toThrow(
      /TRACE_TRUST_CLIENT_TRACEPARENT:/,
    );
    expect(() => tracingSettings({ OTEL_TRACES_EXPORTER: 'zipkin' }, ROUTER)).toThrow(/OTEL_TRACES_EXPORTER:/);
  });
});
