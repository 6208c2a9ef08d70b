import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import {
  ErrorCode,
  errorStatusFor,
  graphqlMediaType,
  httpStatusFor,
  maskErrors,
  type Logger,
} from '@memegraph/service-kit';

/**
 * The router's one place for error shapes: subgraph failures become
 * DOWNSTREAM_SERVICE_ERROR naming the service; anything uncoded is masked.
 */
export function formatRouterError(log: Logger) {
  const mask = maskErrors(log);
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const serviceName = formatted.extensions?.serviceName;
    if (typeof serviceName === 'string' && formatted.extensions?.code === ErrorCode.INTERNAL_SERVER_ERROR) {
      return {
        message: `The ${serviceName} service failed`,
        ...(formatted.path ? { path: formatted.path } : {}),
        extensions: { code: ErrorCode.DOWNSTREAM_SERVICE_ERROR, serviceName },
      };
    }
    return mask(formatted, error);
  };
}

/**
 * When a request produced no data at all, its HTTP status says why (401,
 * 403, 429, …), taken from the first error's code, for the media type the
 * answer goes out as: `application/json` answers a well-formed request's
 * GraphQL errors with 200, as the GraphQL-over-HTTP spec asks (see
 * `errorStatusFor`). Partial results stay 200.
 */
export const statusFromErrors: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async willSendResponse({ request, response }) {
        if (response.body.kind !== 'single') return;
        const { data, errors } = response.body.singleResult;
        if (data !== undefined && data !== null) return;
        const code = errors?.[0]?.extensions?.code;
        // A code the table does not know keeps the status Apollo gave it.
        if (typeof code !== 'string' || httpStatusFor[code] === undefined) return;
        const status = errorStatusFor(code, graphqlMediaType(request.http?.headers.get('accept')));
        // Apollo answers 400 for any result without data; a known code says better what happened.
        const current = response.http.status;
        if (current === undefined || current === 200 || current === 400) response.http.status = status;
        // A subgraph's refusal that says when to come back (a throttled log-in: extensions.retryAfter) says it in the header too.
        const retryAfter = errors?.[0]?.extensions?.retryAfter;
        if (response.http.status === 429 && typeof retryAfter === 'number' && retryAfter > 0) {
          response.http.headers.set('retry-after', String(Math.ceil(retryAfter)));
        }
      },
    };
  },
};
