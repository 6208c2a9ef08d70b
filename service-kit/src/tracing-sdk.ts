/**
 * OpenTelemetry tracing of a service process, set up once by the preload
 * (tracing-preload.ts) before the service's own modules load, so that the
 * http, pg and ioredis instrumentations patch those modules as they are
 * first imported.
 *
 * Configured by the standard OTEL_* variables, off unless an OTLP endpoint
 * (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or
 * OTEL_TRACES_EXPORTER=otlp is set; OTEL_SDK_DISABLED=true or
 * OTEL_TRACES_EXPORTER=none turns it off. Spans go out as OTLP/HTTP JSON,
 * in batches (OTEL_BSP_*). Sampling is OTEL_TRACES_SAMPLER and
 * OTEL_TRACES_SAMPLER_ARG (default parentbased_always_on; a ratio:
 * parentbased_traceidratio with OTEL_TRACES_SAMPLER_ARG=0.01). The trace
 * context travels as W3C `traceparent`/`tracestate`; the router starts a
 * trace of its own for every client request unless
 * TRACE_TRUST_CLIENT_TRACEPARENT=true.
 */
import type { IncomingMessage } from 'node:http';
import type { Context, TextMapGetter, TextMapPropagator, TextMapSetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { REQUEST_ID_HEADER, onTracingShutdown } from './tracing';
import type { TracingSettings } from './tracing-settings';

/**
 * W3C trace context sent on outgoing calls, never read from incoming ones:
 * every request a client sends starts a trace of its own (its sampling
 * decision included) at the router.
 */
export class OutgoingTraceContext implements TextMapPropagator {
  private readonly w3c = new W3CTraceContextPropagator();
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    this.w3c.inject(context, carrier, setter);
  }
  extract(context: Context, _carrier: unknown, _getter: TextMapGetter): Context {
    return context;
  }
  fields(): string[] {
    return this.w3c.fields();
  }
}

/** Probes and scrapes are not traced. */
const UNTRACED = /^\/(?:health|ready|metrics)(?:[/?]|$)/;

/**
 * Starts tracing: the tracer provider (registered globally, with the
 * AsyncLocalStorage context manager), the OTLP exporter and the
 * instrumentations. SQL spans hold the statement as written (parameters
 * stay `$1`, values are never recorded); Redis spans hold the command name only.
 */
export function startTracing(settings: TracingSettings): NodeTracerProvider {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName }).merge(
      // OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME.
      detectResources({ detectors: [envDetector] }),
    ),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register({
    propagator: settings.trustIncomingContext ? new W3CTraceContextPropagator() : new OutgoingTraceContext(),
  });
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req: IncomingMessage) => UNTRACED.test(req.url ?? '/'),
        // A request's span carries the request's id, as service-kit's HTTP server read or made it. (The router
        // notes on it what its response cache did: markCache in router/src/context.ts.)
        applyCustomAttributesOnSpan: (span, request) => {
          if (!span.isRecording() || !('headers' in request)) return;
          const requestId = request.headers[REQUEST_ID_HEADER];
          if (typeof requestId === 'string') span.setAttribute('memegraph.request_id', requestId);
        },
        // Outgoing node:http calls (the OTLP exporter's own among them) are traced only within a trace.
        requireParentforOutgoingSpans: true,
      }),
      new PgInstrumentation({ requireParentSpan: true }),
      // BullMQ polls Redis without end: only commands made within a trace are spans.
      new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => command }),
    ],
  });
  onTracingShutdown(() => provider.shutdown());
  return provider;
}
