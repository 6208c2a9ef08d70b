import { CombinedGraphQLErrors, ServerError } from '@apollo/client/errors';

/** What went wrong, as the page tells it: the router's stable code, its message and what the viewer can do. */
export interface Problem {
  code: string;
  message: string;
  hint?: string;
}

/** What a viewer can do about each code; the router's own message says what happened. */
const HINTS: Record<string, string> = {
  RATE_LIMIT_EXCEEDED: 'Too many requests: wait a minute, then try again.',
  THROTTLED: 'Your request budget is spent for now: wait a few seconds, then try again.',
  COST_ESTIMATED_TOO_EXPENSIVE: 'That asks for too much at once on your plan.',
  UNAUTHORIZED_FIELD_OR_TYPE: 'This is part of Memes AI (premium).',
  FORBIDDEN: 'Your plan does not allow this.',
  PERSISTED_QUERY_NOT_IN_LIST: 'This copy of the gallery is out of date: reload the page.',
  PERSISTED_QUERY_NOT_FOUND: 'This copy of the gallery is out of date: reload the page.',
  QUEUE_OVERLOADED: 'The AI queue is full: try again in a little while.',
  AI_SERVICE_UNAVAILABLE: 'The AI providers cannot take work right now: try again in a little while.',
  QUOTA_EXCEEDED: 'The AI providers are out of quota: try again later.',
  DOWNSTREAM_SERVICE_ERROR: 'Part of Memegraph is down: try again shortly.',
  NETWORK_ERROR: 'Check your connection, then try again.',
};

interface GraphQLErrorLike {
  message: string;
  extensions?: { code?: unknown };
}

/** A problem from a code and the server's message, such as a failed generation's. */
export const problem = (code: string, message: string): Problem => ({ code, message, hint: HINTS[code] });

function fromGraphQLError(error: GraphQLErrorLike | undefined, fallback: string): Problem {
  const code = typeof error?.extensions?.code === 'string' ? error.extensions.code : fallback;
  return problem(code, error?.message ?? 'Something went wrong.');
}

/**
 * The first error of an Apollo Client failure, by its `extensions.code`:
 * GraphQL errors (the router answers `application/graphql-response+json`, so
 * a 401 or 429 arrives as GraphQL errors too), a non-GraphQL HTTP answer, or
 * no answer at all.
 */
export function describeError(error: unknown): Problem {
  if (CombinedGraphQLErrors.is(error)) return fromGraphQLError(error.errors[0], 'INTERNAL_SERVER_ERROR');
  if (ServerError.is(error)) {
    const fallback = `HTTP_${error.statusCode}`;
    try {
      const body = JSON.parse(error.bodyText) as { errors?: GraphQLErrorLike[] };
      if (body.errors?.length) return fromGraphQLError(body.errors[0], fallback);
    } catch {
      // Not JSON (a proxy's error page): the status is all there is to tell.
    }
    return problem(fallback, `The server answered ${error.statusCode}.`);
  }
  return problem('NETWORK_ERROR', 'Memegraph cannot be reached.');
}

/** The code of an Apollo Client failure, for decisions such as ending a session the router refused. */
export const errorCode = (error: unknown): string => describeError(error).code;

/** A failure, announced to assistive technology as it appears. */
export function ErrorNotice({ error, known }: { error?: unknown; known?: Problem }) {
  const shown = known ?? describeError(error);
  return (
    <div role="alert" className="notice notice-error">
      <p>
        {shown.message} <code>{shown.code}</code>
      </p>
      {shown.hint && <p>{shown.hint}</p>}
    </div>
  );
}
