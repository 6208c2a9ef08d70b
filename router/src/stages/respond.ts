import type { ApolloServerPlugin } from '@apollo/server';
import { OperationTypeNode } from 'graphql';
import { errorStatusFor, graphqlMediaType, httpStatusFor } from '@memegraph/service-kit';
import { applyHttpCacheHeaders, hasCredentials, type HttpCacheFacts } from '../cache/httpHeaders';
import type { Stage } from './runner';
import type { AnswerDecision, OperationState } from './state';

/** An answer about to be sent, as its head is decided from it. */
export interface Answer {
  /** `data` is there (not null). */
  hasData: boolean;
  errors?: readonly { extensions?: Record<string, unknown> }[];
  /** The media type it goes out as (graphqlMediaType of the request's Accept). */
  mediaType: string | null;
  /** The request carried Authorization or X-API-Key. */
  credentialed: boolean;
  operation: OperationTypeNode;
  /** What the operation stages decided; none when the operation never reached them (parse or validation errors). */
  decision?: AnswerDecision;
  staleWhileRevalidate?: number;
}

export interface AnswerHead {
  /** The status the answer calls for; undefined: the one it has (200, or Apollo's own for what it refused). */
  status?: number;
  /** X-Cache, Retry-After. */
  headers: Record<string, string>;
  /** What browsers and CDNs may keep: written as Cache-Control, Age, Vary and surrogate keys (cache/httpHeaders.ts). */
  caching: HttpCacheFacts;
}

const KEPT_BY_NO_ONE = {
  policy: { maxAge: 0, scope: 'PUBLIC' as const },
  maxAgeLeft: 0,
  tags: [],
  changesViewer: false,
};

/**
 * The one place the status and headers of a GraphQL answer are decided,
 * for a hit answered from stored bytes and for an answer through Apollo
 * alike: the status from the error-code table when there is no data (for
 * the media type: application/json answers a well-formed request's GraphQL
 * errors with 200, see errorStatusFor), or the one the stages set; X-Cache
 * from the cache decision; Retry-After; and the caching facts (with the
 * answer's Age), which keep an answer only when the response cache would
 * and it has no error.
 */
export function answerHead(answer: Answer): AnswerHead {
  const { decision, errors } = answer;
  let status = decision?.status;
  const code = errors?.[0]?.extensions?.code;
  // A code the table does not know keeps the status the answer has.
  if (status === undefined && !answer.hasData && typeof code === 'string' && httpStatusFor[code] !== undefined)
    status = errorStatusFor(code, answer.mediaType);
  const headers: Record<string, string> = {};
  if (decision?.cache) headers['x-cache'] = decision.cache.mark;
  // A subgraph's refusal that says when to come back (a throttled log-in: extensions.retryAfter) says it in the header too.
  const retryAfter = decision?.retryAfter ?? (status === 429 ? errors?.[0]?.extensions?.retryAfter : undefined);
  if (typeof retryAfter === 'number' && retryAfter > 0) headers['retry-after'] = String(Math.ceil(retryAfter));
  const keep = decision?.keep ?? KEPT_BY_NO_ONE;
  return {
    status,
    headers,
    caching: {
      credentialed: answer.credentialed,
      operation: answer.operation,
      policy: keep.policy,
      maxAgeLeft: keep.maxAgeLeft,
      age: decision?.cache?.age,
      tags: keep.tags,
      failed: !decision?.keep || !!errors?.length || !answer.hasData,
      changesViewer: keep.changesViewer,
      staleWhileRevalidate: answer.staleWhileRevalidate,
    },
  };
}

/** What the operation stages decided, by the operation's request context (its metrics object, the one Apollo and the gateway share). */
const decisions = new WeakMap<object, AnswerDecision>();

/** The last operation stage: hands the decision to the answer's head (answerHeadPlugin). */
export const respond: Stage<OperationState> = {
  name: 'respond',
  always: true,
  run(state) {
    decisions.set(state.rc.metrics, state.decision);
  },
};

/**
 * Writes every answer Apollo sends with the head answerHead decides: those
 * the operation stages answered and those Apollo refused before them (parse,
 * validation). The operations of a batch share one head: each adds its
 * caching headers to the others' (the stricter freshness, the tags of all).
 */
export function answerHeadPlugin(options: { staleWhileRevalidateSeconds?: number }): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ request, response, metrics, operation }) {
          if (response.body.kind !== 'single') return;
          const { data, errors } = response.body.singleResult;
          const httpHeaders = request.http?.headers;
          const head = answerHead({
            hasData: data !== undefined && data !== null,
            errors,
            mediaType: graphqlMediaType(httpHeaders?.get('accept') ?? undefined),
            credentialed: hasCredentials(httpHeaders),
            operation: operation?.operation ?? OperationTypeNode.QUERY,
            decision: decisions.get(metrics),
            staleWhileRevalidate: options.staleWhileRevalidateSeconds,
          });
          const http = response.http;
          // Apollo answers 400 for any result without data; a known code says better what happened.
          if (head.status !== undefined) {
            const current = http.status;
            if (decisions.get(metrics)?.status || current === undefined || current === 200 || current === 400)
              http.status = head.status;
          }
          for (const name in head.headers) http.headers.set(name, head.headers[name]!);
          applyHttpCacheHeaders(http.headers, head.caching);
        },
      };
    },
  };
}
