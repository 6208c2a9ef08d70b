import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ErrorCode, VIEWER_HEADER, annotateActiveSpan, codedError, injectTraceContext } from '@memegraph/service-kit';
import type { FetcherResponse } from '@apollo/utils.fetcher';
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

/** A fetch's deadline, until its body has been read. */
const deadlines = new WeakMap<object, NodeJS.Timeout>();

/**
 * Node's fetch, with a deadline on the answer and its body. One
 * AbortController and timer per fetch: Node 20's `AbortSignal.timeout`
 * costs about 35 times as much to make (7.6 against 0.22 µs, measured).
 */
async function fetchWithDeadline(
  input: string,
  init: RequestInit | undefined,
  timeoutMs: number,
): Promise<FetcherResponse> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`No answer within ${timeoutMs} ms`, 'TimeoutError')),
    timeoutMs,
  );
  try {
    const response = await fetch(input, { ...init, signal: controller.signal });
    deadlines.set(response, timer);
    return response as unknown as FetcherResponse;
  } catch (error) {
    clearTimeout(timer);
    throw error;
  }
}

/**
 * Marks a fetch that may be shared, from willSendRequest (which knows the
 * incoming operation) to the fetcher (which sees only URL and init); the
 * fetcher takes it off, so it never reaches the subgraph.
 */
const SHAREABLE_HEADER = 'x-memegraph-shareable-fetch';

/** A subgraph's whole answer, read once, for every fetch that shares it. */
interface SharedAnswer {
  status: number;
  statusText: string;
  headers: [string, string][];
  body: string;
}

/**
 * Identical fetches in flight at the same time, sent once: the same
 * subgraph (one of these per data source), document, variables and signed
 * viewer. An entry lives only while its fetch does, so a failing answer
 * reaches the fetches already waiting for it and nothing later; there is
 * no caching here. Each sharer gets a Response of its own over the body
 * text, so each parses its own objects: the gateway merges subgraph
 * results into them, and sharers must not see each other's merges.
 */
class InFlightFetches {
  private readonly inFlight = new Map<string, Promise<SharedAnswer>>();

  constructor(private readonly onShared: () => void) {}

  async fetch(
    input: string,
    init: RequestInit & { headers: Record<string, string> },
    timeoutMs: number,
  ): Promise<FetcherResponse> {
    // The request id differs per incoming request and the subgraph only logs it: the first sharer's is sent.
    const key = `${init.headers[VIEWER_HEADER] ?? ''}\n${init.body as string}`;
    let answer = this.inFlight.get(key);
    annotateActiveSpan({ 'memegraph.fetch.dedup': answer ? 'joined' : 'sent' });
    if (answer) {
      this.onShared();
    } else {
      answer = readWhole(input, init, timeoutMs);
      this.inFlight.set(key, answer);
      const forget = () => this.inFlight.delete(key);
      answer.then(forget, forget);
    }
    const { body, status, statusText, headers } = await answer;
    return new Response(body, { status, statusText, headers }) as unknown as FetcherResponse;
  }
}

/** One fetch and its whole body, within its deadline. */
async function readWhole(input: string, init: RequestInit, timeoutMs: number): Promise<SharedAnswer> {
  const response = (await fetchWithDeadline(input, init, timeoutMs)) as unknown as Response;
  try {
    return {
      status: response.status,
      statusText: response.statusText,
      headers: [...response.headers],
      body: await response.text(),
    };
  } finally {
    clearTimeout(deadlines.get(response));
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
      fetcher: (input, init) => {
        const headers = { ...(init?.headers as Record<string, string> | undefined) };
        const shareable = SHAREABLE_HEADER in headers;
        delete headers[SHAREABLE_HEADER];
        // The fetch's span (gateway.fetch) is the parent of the subgraph's.
        injectTraceContext(headers);
        annotateActiveSpan({ 'subgraph.name': serviceName, 'memegraph.fetch.dedup': 'unshared' });
        const request = { ...init, headers, body: init?.body as string | undefined } as RequestInit & {
          headers: Record<string, string>;
        };
        return inFlight && shareable
          ? inFlight.fetch(input, request, options.timeoutMs)
          : fetchWithDeadline(input, request, options.timeoutMs);
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

  /** The body is read: the fetch's deadline is over. */
  override async parseBody(
    response: FetcherResponse,
    request?: Parameters<RemoteGraphQLDataSource['parseBody']>[1],
    context?: RouterContext,
  ) {
    try {
      return await super.parseBody(response, request, context);
    } finally {
      clearTimeout(deadlines.get(response));
    }
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
