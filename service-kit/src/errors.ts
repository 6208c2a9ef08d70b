import { GraphQLError } from 'graphql';

/**
 * Every error a client can get carries one of these codes in
 * `extensions.code`; the router maps each to an HTTP status at the edge.
 */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  UNAUTHORIZED_FIELD_OR_TYPE: 'UNAUTHORIZED_FIELD_OR_TYPE',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  BAD_REQUEST: 'BAD_REQUEST',
  NOT_FOUND: 'NOT_FOUND',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
  TASK_FAILED: 'TASK_FAILED',
  AI_SERVICE_UNAVAILABLE: 'AI_SERVICE_UNAVAILABLE',
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  QUEUE_OVERLOADED: 'QUEUE_OVERLOADED',
  RATE_LIMIT_EXCEEDED: 'RATE_LIMIT_EXCEEDED',
  DOWNSTREAM_SERVICE_ERROR: 'DOWNSTREAM_SERVICE_ERROR',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const httpStatusFor: Record<string, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  UNAUTHORIZED_FIELD_OR_TYPE: 403,
  BAD_USER_INPUT: 400,
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  GRAPHQL_PARSE_FAILED: 400,
  GRAPHQL_VALIDATION_FAILED: 400,
  PERSISTED_QUERY_NOT_FOUND: 200,
  COST_ESTIMATED_TOO_EXPENSIVE: 400,
  THROTTLED: 429,
  RATE_LIMIT_EXCEEDED: 429,
  QUEUE_OVERLOADED: 503,
  AI_SERVICE_UNAVAILABLE: 503,
  QUOTA_EXCEEDED: 429,
  TASK_FAILED: 500,
  DOWNSTREAM_SERVICE_ERROR: 502,
  INTERNAL_SERVER_ERROR: 500,
};

export function codedError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extensions } });
}

export const badUserInput = (message: string, extensions: Record<string, unknown> = {}) =>
  codedError(ErrorCode.BAD_USER_INPUT, message, extensions);
export const unauthenticated = (message = 'You must be signed in to do this') =>
  codedError(ErrorCode.UNAUTHENTICATED, message);
export const forbidden = (message: string) => codedError(ErrorCode.FORBIDDEN, message);

/** An error that is safe to send to a client: a GraphQLError carrying a known code. */
export function isClientSafe(error: unknown): boolean {
  if (!(error instanceof GraphQLError)) return false;
  const code = error.extensions?.code;
  return typeof code === 'string' && code !== ErrorCode.INTERNAL_SERVER_ERROR;
}
