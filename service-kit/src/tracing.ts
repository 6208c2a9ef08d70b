/**
 * What services need of tracing at run time, on `@opentelemetry/api` alone:
 * the request a log line belongs to, spans of our own, and trace context
 * carried where HTTP instrumentation does not reach (fetch, queued jobs).
 *
 * With tracing off (no OTEL_* settings: see tracing-sdk.ts) the API's no-op
 * implementations answer: no span is recorded and nothing is propagated.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ApolloServerPlugin } from '@apollo/server';
import {
  ROOT_CONTEXT,
  SpanStatusCode,
  context,
  isSpanContextValid,
  propagation,
  trace,
  type Attributes,
  type Link,
  type Span,
  type SpanKind,
} from '@opentelemetry/api';

export { SpanKind } from '@opentelemetry/api';

export const REQUEST_ID_HEADER = 'x-request-id';
const REQUEST_ID = /^[\w.:-]{1,100}$/;

/**
 * The request id of an incoming request: the caller's `x-request-id` when it
 * looks like one, otherwise a new one, written back to the request's headers
 * so that everything reading them later sees the same id.
 */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  if (typeof given === 'string' && REQUEST_ID.test(given)) return given;
  const made = randomUUID();
  req.headers[REQUEST_ID_HEADER] = made;
  return made;
}

const requestScope = new AsyncLocalStorage<string>();

/** Runs `fn` as part of request `requestId`: the log lines it writes carry the id. */
export function withRequestId<T>(requestId: string, fn: () => T): T {
  return requestScope.run(requestId, fn);
}

/** The id of the request being served, if any. */
export function currentRequestId(): string | undefined {
  return requestScope.getStore();
}

/**
 * The fields every log line gets (pino's `mixin`): the request id, and the
 * trace and span ids of the active span when one is being traced.
 */
export function logContextFields(): Record<string, string> {
  const fields: Record<string, string> = {};
  const requestId = requestScope.getStore();
  if (requestId !== undefined) fields.requestId = requestId;
  const span = trace.getSpanContext(context.active());
  if (span !== undefined && isSpanContextValid(span)) {
    fields.trace_id = span.traceId;
    fields.span_id = span.spanId;
  }
  return fields;
}

/** The headers of an outgoing call: the active trace context (`traceparent`, `tracestate`) added to `headers`. */
export function injectTraceContext(headers: Record<string, string>): Record<string, string> {
  propagation.inject(context.active(), headers);
  return headers;
}

/** Attributes for the span active now (the HTTP request's, a subgraph fetch's); nothing when none is. */
export function annotateActiveSpan(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

/** The trace context of the work being done, to hand to work done later elsewhere (a queued job). */
export type TraceCarrier = Record<string, string>;

export function traceCarrier(): TraceCarrier | undefined {
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length > 0 ? carrier : undefined;
}

/** A link to the span a carrier was made in; none when it holds none. */
export function linksTo(carrier: TraceCarrier | undefined): Link[] {
  if (!carrier) return [];
  const span = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, carrier));
  return span !== undefined && isSpanContextValid(span) ? [{ context: span }] : [];
}

const tracer = trace.getTracer('memegraph');

/**
 * `fn` inside a span of its own, the active one while it runs: ended when it
 * settles, its error recorded (the exception's type and message) and the span
 * marked failed.
 */
export function inSpan<T>(
  name: string,
  options: { attributes?: Attributes; links?: Link[]; kind?: SpanKind; root?: boolean },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.root ? ROOT_CONTEXT : context.active();
  return tracer.startActiveSpan(
    name,
    { attributes: options.attributes, links: options.links, kind: options.kind },
    parent,
    async (span) => {
      try {
        return await fn(span);
      } catch (error) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : undefined });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/**
 * How to flush and stop the tracer provider, set by the tracing preload; kept on
 * the global object so it is found whichever copy of this module asks.
 */
const SHUTDOWN = Symbol.for('memegraph.tracing.shutdown');
type WithShutdown = { [SHUTDOWN]?: () => Promise<void> };

export function onTracingShutdown(fn: () => Promise<void>): void {
  (globalThis as WithShutdown)[SHUTDOWN] = fn;
}

/** Sends the spans still batched and stops tracing; nothing when tracing is off. */
export async function shutdownTracing(): Promise<void> {
  await (globalThis as WithShutdown)[SHUTDOWN]?.().catch(() => undefined);
}

/**
 * Whether spans may hold GraphQL documents (`graphql.document`):
 * TRACE_GRAPHQL_DOCUMENT=true. Off by default, as documents may hold
 * literal values; variable values are never recorded.
 */
export function graphqlDocumentsTraced(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.TRACE_GRAPHQL_DOCUMENT?.trim().toLowerCase() === 'true';
}

/**
 * An Apollo Server plugin that puts the GraphQL attributes of the
 * OpenTelemetry semantic conventions on the request's span (the HTTP
 * server span): `graphql.operation.type`, `graphql.operation.name`, and
 * `graphql.document` when allowed. Nothing is done for a request not traced.
 */
export function graphqlSpanAttributes(): ApolloServerPlugin {
  const documents = graphqlDocumentsTraced();
  return {
    async requestDidStart() {
      const span = trace.getActiveSpan();
      if (!span?.isRecording()) return;
      return {
        async didResolveOperation({ operation, operationName, source }) {
          if (operation) span.setAttribute('graphql.operation.type', operation.operation);
          if (operationName) span.setAttribute('graphql.operation.name', operationName);
          if (documents) span.setAttribute('graphql.document', source);
        },
      };
    },
  };
}
