import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ExecutionResult } from 'graphql';
import type { ApolloServer } from '@apollo/server';
import {
  ErrorCode,
  GENERATION_CHANGES_CHANNEL,
  HttpError,
  readGenerationChange,
  type Logger,
  type TierTable,
  type Viewer,
  type ViewerSigner,
} from '@memegraph/service-kit';
import { createRouterContext, type RouterContext } from '../context';
import type { OperationLimits } from '../limits/operationLimits';
import { limitOutcome, requestCheck, type RequestLimits } from '../limits/requestLimits';
import type { OperationRequest, TrustedDocuments } from '../persisted/trustedDocuments';
import type { RouterMetrics } from '../metrics';
import type { Policy } from '../policy/schemaPolicy';
import type { SharedState } from '../state/shared';
import { LiveSubscription, SubscriptionHub } from './hub';
import { SubscriptionLeases } from './leases';
import {
  SubscriptionRefused,
  eventVariables,
  prepareSubscription,
  supergraphView,
  type SubscriptionRequest,
} from './operation';
import { createSseTransport } from './sse';
import { createWsTransport } from './ws';

export type Transport = 'sse' | 'ws';

/** How often unfinished generations are read again with Redis, whose messages may be lost while a router reconnects. */
const RESYNC_MS = 30_000;
/** …and without Redis, where no change is heard: the router polls for its subscribers. */
const RESYNC_ALONE_MS = 2_000;

export interface SubscriptionSettings {
  /** Subscriptions open at once on this router, both transports together; WebSocket connections too. */
  maxStreams: number;
  /** How often idle streams carry a heartbeat (an SSE comment, a WebSocket ping), and leases are renewed. */
  heartbeatMs: number;
  /** The SSE `retry:` a client waits before it reconnects, after a drain or a dropped connection. */
  retryMs: number;
  bodyLimitBytes: number;
}

export interface SubscriptionDeps {
  /** The running supergraph (it may be reloaded). */
  supergraph: () => { sdl: string; gatewaySdl: string };
  /** The router's own Apollo Server over the pipeline gateway: each event's query runs through it. */
  apollo: ApolloServer<RouterContext>;
  signViewers: ViewerSigner;
  identify: (req: IncomingMessage) => Viewer | Promise<Viewer>;
  /** The request path's authorization of a field's policy, and the key a viewer's limits are kept under. */
  denial: (policy: Policy, viewer: Viewer) => string | null;
  viewerKey: (viewer: Viewer) => string;
  tiers: TierTable;
  /** Trusted documents: a viewer held to the manifest subscribes by manifest id only. */
  trusted: TrustedDocuments;
  /** The request path's window and daily quota: opening a subscription counts as one request of the viewer's. */
  limits: RequestLimits;
  state: SharedState;
  operationLimits: OperationLimits;
  defaultListSize: number;
  metrics: RouterMetrics;
  /** Headers every stream's response carries (CORS). */
  headers: Record<string, string>;
  settings: SubscriptionSettings;
  log: Logger;
}

/** What a transport gets when it opens a subscription: its events, or refusals to send. */
export type Opened = { events: AsyncGenerator<ExecutionResult, undefined> } | { errors: readonly object[] };

export interface Subscriptions {
  /** GraphQL over SSE (graphql-sse, distinct connections). */
  handleStream(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Whether a request to /graphql asks for a stream (`Accept: text/event-stream`). */
  wantsStream(req: IncomingMessage): boolean;
  /** GraphQL over WebSocket (graphql-ws) on the HTTP server's upgrade, at /graphql. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Open subscriptions on this router. */
  readonly size: number;
  /** Drains: every stream is closed, clients told to reconnect (to another router). */
  close(): Promise<void>;
}

/**
 * GraphQL subscriptions at the router. The ai subgraph announces every change
 * of a generation on Redis; each router serves the changes of its
 * subscribers' generations by running the subscription's selection as a
 * `generation(id:)` query through its own gateway, as the subscriber, so
 * fields of every subgraph resolve as in a query, checked and signed as
 * always. Subscriptions are checked when opened as queries are (operation
 * limits, validation, authorization, cost) and counted per viewer against
 * the tier's `maxSubscriptions`.
 */
export function createSubscriptions(deps: SubscriptionDeps): Subscriptions {
  const { settings, metrics, log } = deps;
  const hub = new SubscriptionHub();
  const leases = new SubscriptionLeases(deps.state, settings.heartbeatMs);
  const view = supergraphView();
  let draining = false;

  deps.state.listen(`${deps.state.prefix}${GENERATION_CHANGES_CHANNEL}`, (message) => {
    const change = readGenerationChange(message);
    if (change) hub.dispatch(change);
    else log.warn('generation change message not understood; dropped');
  });
  const renewal = setInterval(() => void leases.renew(), settings.heartbeatMs);
  renewal.unref();
  // Changes missed (pub/sub is at most once; without Redis nothing is heard) are caught up by reading again.
  const resync = setInterval(() => hub.resync(), deps.state.redis ? RESYNC_MS : RESYNC_ALONE_MS);
  resync.unref();

  const run = async (subscription: LiveSubscription, viewer: Viewer, generationId: string) => {
    const { prepared } = subscription;
    try {
      const response = await deps.apollo.executeOperation(
        {
          query: prepared.queryText,
          variables: eventVariables(prepared, generationId),
          operationName: prepared.operationName,
        },
        {
          contextValue: createRouterContext(viewer, deps.signViewers, { requestId: `subscription:${subscription.id}` }),
        },
      );
      if (response.body.kind !== 'single') throw new Error('an incremental answer to a subscription event');
      const { data, errors } = response.body.singleResult;
      return { data, ...(errors?.length ? { errors } : {}) } as ExecutionResult;
    } catch (error) {
      log.error({ err: error, subscription: subscription.id, generationId }, 'subscription event not read');
      return {
        errors: [
          {
            message: 'The generation could not be read; it is read again on its next change',
            extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
          },
        ],
      } as unknown as ExecutionResult;
    }
  };

  const refusal = (code: string, message: string, tier: string, extensions: Record<string, unknown> = {}) => {
    metrics.rejections.inc({ reason: code, tier });
    return { errors: [{ message, extensions: { ...extensions, code } }] };
  };

  /** Opens a subscription for `viewer` on `transport`, or says why not. */
  const open = async (
    viewer: Viewer,
    request: SubscriptionRequest,
    transport: Transport,
    clientName?: string,
  ): Promise<Opened> => {
    if (draining) return refusal(ErrorCode.BAD_REQUEST, 'This router is shutting down: reconnect', viewer.tier);
    if (hub.size >= settings.maxStreams)
      return refusal(
        ErrorCode.RATE_LIMIT_EXCEEDED,
        'This router holds as many streams as it may: retry later',
        viewer.tier,
      );
    const limits = deps.tiers[viewer.tier];
    const key = deps.viewerKey(viewer);
    // Opening one is a request of the viewer's: the request path's window and day's quota, shared by every router.
    const { refusal: overLimit } = limitOutcome(await deps.limits(requestCheck(key, limits, 1)), limits, 1);
    if (overLimit) return refusal(overLimit.code, overLimit.message, viewer.tier, overLimit.extensions);
    try {
      // Resolves a manifest id to its text; refuses text where the viewer is held to the manifest.
      deps.trusted.apply(request as OperationRequest, viewer.tier, clientName);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      return refusal(error.code, error.message, viewer.tier);
    }
    const supergraph = deps.supergraph();
    const { schema, policy } = view(supergraph.sdl, supergraph.gatewaySdl);
    let prepared;
    try {
      prepared = prepareSubscription(request, {
        schema,
        policy,
        viewer,
        limits,
        denial: deps.denial,
        operationLimits: deps.operationLimits,
        defaultListSize: deps.defaultListSize,
      });
    } catch (error) {
      if (!(error instanceof SubscriptionRefused)) throw error;
      const code = error.errors[0]?.extensions.code;
      if (typeof code === 'string') metrics.rejections.inc({ reason: code, tier: viewer.tier });
      return { errors: error.errors.map((e) => e.toJSON()) };
    }
    // Every subscription field asks for a signed-in viewer, so authorization above let only users through.
    if (viewer.kind !== 'user') return refusal(ErrorCode.UNAUTHENTICATED, 'Sign in to subscribe', viewer.tier);
    const id = randomUUID();
    if (!(await leases.acquire(key, id, limits.maxSubscriptions))) {
      return refusal(
        ErrorCode.RATE_LIMIT_EXCEEDED,
        `At most ${limits.maxSubscriptions} subscriptions may be open at once on this plan`,
        viewer.tier,
      );
    }
    const subscription: LiveSubscription = new LiveSubscription(
      id,
      viewer.userId,
      prepared,
      (self, generationId) => run(self, viewer, generationId),
      () => metrics.subscriptionEvents.inc({ transport }),
      () => {
        hub.remove(subscription);
        metrics.subscriptionStreams.dec({ transport });
        void leases.release(key, id);
      },
    );
    hub.add(subscription);
    metrics.subscriptionStreams.inc({ transport });
    // The first event is the generation as it is now: nothing between a last read and the stream is lost.
    if (prepared.generationId !== undefined) subscription.refresh(prepared.generationId);
    return { events: subscription.feed };
  };

  const sse = createSseTransport({
    identify: deps.identify,
    open,
    retryMs: settings.retryMs,
    bodyLimitBytes: settings.bodyLimitBytes,
    headers: deps.headers,
    refuseWhen: () => (draining ? 'draining' : null),
  });
  const ws = createWsTransport({
    identify: deps.identify,
    open,
    heartbeatMs: settings.heartbeatMs,
    maxConnections: settings.maxStreams,
    maxPayloadBytes: settings.bodyLimitBytes,
    refuseWhen: () => (draining ? 'draining' : null),
    onConnection: (delta) => metrics.subscriptionConnections.inc({ transport: 'ws' }, delta),
    log,
  });

  return {
    handleStream: sse.handle,
    wantsStream: (req) => /\btext\/event-stream\b/i.test(req.headers.accept ?? ''),
    handleUpgrade: ws.handleUpgrade,
    get size() {
      return hub.size;
    },
    async close() {
      draining = true;
      clearInterval(renewal);
      clearInterval(resync);
      // SSE clients are told to come back (retry:), WebSocket clients closed with 1012 (service restart).
      sse.close();
      await ws.close();
      hub.endAll();
    },
  };
}
