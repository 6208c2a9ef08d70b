import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ErrorCode, VIEWER_HEADER, annotateActiveSpan, codedError, injectTraceContext } from '@memegraph/service-kit';
import http from 'node:http';
import https from 'node:https';
import type { FetcherHeaders, FetcherResponse } from '@apollo/utils.fetcher';
import { context as otelContext, createContextKey } from '@opentelemetry/api';
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleAll,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import type { Counter, Histogram } from 'prom-client';
import type { RouterContext } from '../context';
import type { EntityCache, SubgraphAnswer } from '../cache/entityCache';
import { viewerKey } from '../limits/keys';

/**
 * Keep-alive connections to the subgraphs, shared by every data source.
 * An idle connection is closed after 4 s, as Node's fetch does, well before
 * a subgraph would close it (65 s), so none is reused as it closes.
 */
const agent = new http.Agent({ keepAlive: true, timeout: 4_000 });
const tlsAgent = new https.Agent({ keepAlive: true, timeout: 4_000 });

/**
 * OpenTelemetry's key for "record nothing here" (`suppressTracing` of
 * @opentelemetry/core; `createContextKey` is `Symbol.for` of the
 * description, so this is the same key). A subgraph call is sent under it:
 * the HTTP instrumentation then makes no client span of its own and leaves
 * the `traceparent` of the fetch's span (gateway.fetch) as it is, so the
 * subgraph's span stays that span's child, as it was with fetch.
 */
const SUPPRESS_TRACING = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

/** A subgraph's whole answer, read once, for every fetch that shares it. */
export interface SharedAnswer {
  status: number;
  statusText: string;
  /** Lower-case names, as node:http gives them. */
  headers: Record<string, string>;
  body: string;
}

/**
 * One POST to a subgraph over node:http, answered once its whole body is
 * read, within a deadline that covers the body too. Node's fetch did the
 * same work at about four times the CPU (a 10 KB answer over a kept-alive
 * connection, client and server in one process: 380 against 100 µs a call):
 * its Request, Headers, AbortSignal and web streams are made and read for
 * every call.
 */
export function requestWhole(input: string, init: SubgraphRequest, timeoutMs: number): Promise<SharedAnswer> {
  return new Promise<SharedAnswer>((resolve, reject) => {
    const body = init.body ?? '';
    let done = false;
    // Unset while http.request runs: it may throw (a bad header value) before there is a request to destroy.
    let request: http.ClientRequest | undefined;
    const finish = (error: unknown, answer?: SharedAnswer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (error) {
        request?.destroy();
        reject(error instanceof Error ? error : new Error(String(error)));
      } else resolve(answer!);
    };
    const timer = setTimeout(
      () => finish(new DOMException(`No answer within ${timeoutMs} ms`, 'TimeoutError')),
      timeoutMs,
    );
    const tls = input.startsWith('https:');
    try {
      request = otelContext.with(otelContext.active().setValue(SUPPRESS_TRACING, true), () =>
        (tls ? https : http).request(
          input,
          {
            method: init.method ?? 'POST',
            agent: tls ? tlsAgent : agent,
            headers: { ...init.headers, 'content-length': String(Buffer.byteLength(body)) },
          },
          (response) => {
            response.setEncoding('utf8');
            let text = '';
            response.on('data', (chunk: string) => (text += chunk));
            response.on('error', (error) => finish(error));
            response.on('close', () => {
              if (!response.complete) finish(new Error(`The answer from ${input} ended before its body did`));
            });
            response.on('end', () => {
              const headers: Record<string, string> = {};
              for (const [name, value] of Object.entries(response.headers))
                if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
              finish(null, {
                status: response.statusCode ?? 0,
                statusText: response.statusMessage ?? '',
                headers,
                body: text,
              });
            });
          },
        ),
      );
    } catch (error) {
      finish(error);
      return;
    }
    request.on('error', (error) => finish(error));
    request.end(body);
  });
}

/** The headers of a subgraph's answer, read-only in effect: names are matched without case. */
class AnswerHeaders implements FetcherHeaders {
  constructor(private readonly fields: Record<string, string>) {}
  get(name: string): string | null {
    return this.fields[name.toLowerCase()] ?? null;
  }
  has(name: string): boolean {
    return name.toLowerCase() in this.fields;
  }
  append(name: string, value: string): void {
    const key = name.toLowerCase();
    this.fields[key] = key in this.fields ? `${this.fields[key]}, ${value}` : value;
  }
  set(name: string, value: string): void {
    this.fields[name.toLowerCase()] = value;
  }
  delete(name: string): void {
    delete this.fields[name.toLowerCase()];
  }
  entries(): IterableIterator<[string, string]> {
    return Object.entries(this.fields)[Symbol.iterator]();
  }
  keys(): IterableIterator<string> {
    return Object.keys(this.fields)[Symbol.iterator]();
  }
  values(): IterableIterator<string> {
    return Object.values(this.fields)[Symbol.iterator]();
  }
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}

/** A subgraph's answer as the gateway reads a fetch's: over the body text, which each reader parses for itself. */
class SubgraphResponse implements FetcherResponse {
  readonly ok: boolean;
  readonly redirected = false;
  readonly bodyUsed = false;
  readonly status: number;
  readonly statusText: string;
  readonly headers: AnswerHeaders;

  constructor(
    readonly url: string,
    private readonly answer: SharedAnswer,
  ) {
    this.status = answer.status;
    this.statusText = answer.statusText;
    this.ok = answer.status >= 200 && answer.status < 300;
    this.headers = new AnswerHeaders({ ...answer.headers });
  }

  async text(): Promise<string> {
    return this.answer.body;
  }

  async json(): Promise<unknown> {
    return JSON.parse(this.answer.body);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = Buffer.from(this.answer.body, 'utf8');
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  clone(): SubgraphResponse {
    return new SubgraphResponse(this.url, this.answer);
  }
}

/** What the data source's fetcher sends. */
export type SubgraphRequest = { method?: string; headers: Record<string, string>; body?: string };

/**
 * Marks a fetch that may be shared, from willSendRequest (which knows the
 * incoming operation) to the fetcher (which sees only URL and init); the
 * fetcher takes it off, so it never reaches the subgraph.
 */
const SHAREABLE_HEADER = 'x-memegraph-shareable-fetch';

/**
 * Identical fetches in flight at the same time, sent once: the same
 * subgraph (one of these per data source), document, variables and signed
 * viewer. An entry lives only while its fetch does, so a failing answer
 * reaches the fetches already waiting for it and nothing later; there is
 * no caching here. Each sharer gets a response of its own over the body
 * text, so each parses its own objects: the gateway merges subgraph
 * results into them, and sharers must not see each other's merges.
 */
class InFlightFetches {
  private readonly inFlight = new Map<string, Promise<SharedAnswer>>();

  constructor(private readonly onShared: () => void) {}

  async fetch(input: string, init: SubgraphRequest, timeoutMs: number): Promise<FetcherResponse> {
    // The request id differs per incoming request and the subgraph only logs it: the first sharer's is sent.
    const key = `${init.headers[VIEWER_HEADER] ?? ''}\n${init.body as string}`;
    let answer = this.inFlight.get(key);
    annotateActiveSpan({ 'memegraph.fetch.dedup': answer ? 'joined' : 'sent' });
    if (answer) {
      this.onShared();
    } else {
      answer = requestWhole(input, init, timeoutMs);
      this.inFlight.set(key, answer);
      const forget = () => this.inFlight.delete(key);
      answer.then(forget, forget);
    }
    return new SubgraphResponse(input, await answer);
  }
}

/** Every router → subgraph call carries the viewer, signed and short-lived. */
export class SignedViewerDataSource extends RemoteGraphQLDataSource<RouterContext> {
  private readonly breaker: CircuitBreakerPolicy;

  constructor(
    private readonly serviceName: string,
    url: string,
    options: {
      /** Time limit of one fetch from this subgraph. */
      timeoutMs: number;
      /** Consecutive failed fetches that open the circuit, and how long it stays open before a probe. */
      breakerThreshold: number;
      breakerHalfOpenMs: number;
      /**
       * How long a read that has a stale copy to fall back on waits for this
       * subgraph (see RouterContext.staleCopy); the fetch itself goes on, for
       * the breaker, up to `timeoutMs`.
       */
      staleWaitMs: number;
      latency?: Histogram<'subgraph' | 'outcome'>;
      onBreakerChange?: (subgraph: string, state: CircuitState) => void;
      /** Share identical query fetches in flight at the same time (SUBGRAPH_DEDUP). */
      dedup?: boolean;
      /** Counts the fetches not sent because an identical one in flight answered them. */
      shared?: Counter<'subgraph'>;
      /** Answers a query's `_entities` fetches per entity, as far as it can (ENTITY_CACHE). */
      entityCache?: EntityCache;
    },
  ) {
    const inFlight = options.dedup
      ? new InFlightFetches(() => options.shared?.inc({ subgraph: serviceName }))
      : undefined;
    super({
      url,
      // Node's fetch keeps connections alive in a pool per origin; each fetch gets a deadline.
      fetcher: async (input, init) => {
        // The gateway's own copy of the headers, made for this fetch: changed in place.
        const headers = init?.headers ?? {};
        const shareable = SHAREABLE_HEADER in headers;
        delete headers[SHAREABLE_HEADER];
        // The fetch's span (gateway.fetch) is the parent of the subgraph's.
        injectTraceContext(headers);
        annotateActiveSpan({ 'subgraph.name': serviceName, 'memegraph.fetch.dedup': 'unshared' });
        const request: SubgraphRequest = { method: init?.method, headers, body: init?.body as string | undefined };
        return inFlight && shareable
          ? inFlight.fetch(input, request, options.timeoutMs)
          : new SubgraphResponse(input, await requestWhole(input, request, options.timeoutMs));
      },
    });
    this.shareFetches = inFlight !== undefined;
    this.entityCache = options.entityCache;
    this.latency = options.latency;
    this.staleWaitMs = options.staleWaitMs;
    this.breaker = circuitBreaker(handleAll, {
      halfOpenAfter: options.breakerHalfOpenMs,
      breaker: new ConsecutiveBreaker(options.breakerThreshold),
    });
    this.breaker.onStateChange((state) => options.onBreakerChange?.(serviceName, state));
  }

  private readonly shareFetches: boolean;
  private readonly entityCache?: EntityCache;
  private readonly latency?: Histogram<'subgraph' | 'outcome'>;
  private readonly staleWaitMs: number;

  /**
   * A query's `_entities` fetch is answered from the entity cache as far as
   * it can: only the entities it lacks are fetched (see EntityCache).
   */
  override async process(options: GraphQLDataSourceProcessOptions<RouterContext>) {
    const context = options.context as Partial<RouterContext>;
    // A query's entity fetches only: a mutation's plan must read what it wrote.
    if (
      this.entityCache &&
      context.viewer &&
      'incomingRequestContext' in options &&
      options.incomingRequestContext.operation?.operation === 'query' &&
      options.request.query
    ) {
      const { viewer } = context;
      const answer = await this.entityCache.fetch({
        subgraph: this.serviceName,
        schema: options.incomingRequestContext.schema,
        query: options.request.query,
        variables: options.request.variables ?? {},
        viewer,
        viewerKey: viewerKey(viewer),
        send: async (variables) =>
          (await this.send({ ...options, request: { ...options.request, variables } })) as SubgraphAnswer,
      });
      return answer as Awaited<ReturnType<RemoteGraphQLDataSource['process']>>;
    }
    return this.send(options);
  }

  /**
   * One fetch from the subgraph, timed. A subgraph that keeps failing is not
   * called until it has had time to recover: its fields fail fast with
   * DOWNSTREAM_SERVICE_ERROR meanwhile. Only transport failures count
   * (unreachable, timeout, HTTP error), not GraphQL errors in a good answer.
   * A read with a stale copy waits at most `staleWaitMs`, then fails so the
   * copy is served at once.
   */
  private async send(options: GraphQLDataSourceProcessOptions<RouterContext>) {
    const stop = this.latency?.startTimer({ subgraph: this.serviceName });
    const call = this.call(options).then(
      (response) => {
        stop?.({ outcome: response.errors?.length ? 'errors' : 'ok' });
        return response;
      },
      (error: unknown) => {
        stop?.({ outcome: error instanceof BrokenCircuitError ? 'circuit_open' : 'failed' });
        if (error instanceof BrokenCircuitError) {
          throw codedError(
            ErrorCode.DOWNSTREAM_SERVICE_ERROR,
            `The ${this.serviceName} service is failing; not called for now`,
            {
              serviceName: this.serviceName,
            },
          );
        }
        throw error;
      },
    );
    if ((options.context as Partial<RouterContext>).staleCopy !== true) return call;
    // The fetch goes on without this read, so the breaker still learns how it ends.
    call.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            codedError(
              ErrorCode.DOWNSTREAM_SERVICE_ERROR,
              `The ${this.serviceName} service did not answer within ${this.staleWaitMs} ms`,
              {
                serviceName: this.serviceName,
              },
            ),
          ),
        this.staleWaitMs,
      );
    });
    try {
      return await Promise.race([call, waited]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * One call through the breaker. While it is half-open, cockatiel lets one
   * probe through and holds every other call until the probe ends, up to a
   * whole timeout; those fail at once instead, as while it is open.
   */
  private call(options: GraphQLDataSourceProcessOptions<RouterContext>) {
    if (this.breaker.state === CircuitState.HalfOpen) return Promise.reject(new BrokenCircuitError());
    return this.breaker.execute(() => super.process(options));
  }

  override async willSendRequest(options: GraphQLDataSourceProcessOptions<RouterContext>): Promise<void> {
    const { request, context } = options;
    // Health checks and schema loads have no request context; they go unsigned and are refused.
    if (!('signedViewer' in context)) return;
    request.http?.headers.set(VIEWER_HEADER, await context.signedViewer());
    request.http?.headers.set('x-request-id', context.report.requestId);
    // Only a query's fetches are shared: a mutation's, and the reads that follow it in its plan, must see its writes.
    if (
      this.shareFetches &&
      'incomingRequestContext' in options &&
      options.incomingRequestContext.operation?.operation === 'query'
    ) {
      request.http?.headers.set(SHAREABLE_HEADER, '1');
    }
  }

  /**
   * A subgraph that cannot be reached, times out or answers with an HTTP
   * error is the platform's fault, not the client's: one code, the service's
   * name, no internals. The rest of the response is still served.
   */
  override didEncounterError(): never {
    throw codedError(ErrorCode.DOWNSTREAM_SERVICE_ERROR, `The ${this.serviceName} service failed to answer`, {
      serviceName: this.serviceName,
    });
  }
}
