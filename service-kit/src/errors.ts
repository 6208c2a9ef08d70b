import { GraphQLError } from 'graphql';

/**
 * Every error a client can get carries one of these codes in
 * `extensions.code`, and the HTTP status the edge answers with when a
 * request yields no data at all. One table: the codes are its keys.
 */
const STATUS_BY_CODE = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  UNAUTHORIZED_FIELD_OR_TYPE: 403,
  BAD_USER_INPUT: 400,
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  GRAPHQL_PARSE_FAILED: 400,
  GRAPHQL_VALIDATION_FAILED: 400,
  OPERATION_RESOLUTION_FAILURE: 400,
  PERSISTED_QUERY_NOT_FOUND: 200,
  PERSISTED_QUERY_NOT_IN_LIST: 400,
  DOCUMENT_TOO_LARGE: 413,
  MAX_TOKENS_EXCEEDED: 400,
  MAX_DEPTH_EXCEEDED: 400,
  MAX_ALIASES_EXCEEDED: 400,
  MAX_ROOT_FIELDS_EXCEEDED: 400,
  BATCH_TOO_LARGE: 400,
  COST_ESTIMATED_TOO_EXPENSIVE: 400,
  THROTTLED: 429,
  RATE_LIMIT_EXCEEDED: 429,
  QUEUE_OVERLOADED: 503,
  AI_SERVICE_UNAVAILABLE: 503,
  QUOTA_EXCEEDED: 429,
  TASK_FAILED: 500,
  DOWNSTREAM_SERVICE_ERROR: 502,
  INTERNAL_SERVER_ERROR: 500,
} as const;

export type ErrorCode = keyof typeof STATUS_BY_CODE;
export const ErrorCode = Object.fromEntries(Object.keys(STATUS_BY_CODE).map((code) => [code, code])) as {
  readonly [C in ErrorCode]: C;
};
export const httpStatusFor: Readonly<Record<string, number>> = STATUS_BY_CODE;

/**
 * The status of an answer that holds errors and no data, as the
 * GraphQL-over-HTTP spec sets it for the media type the answer goes out as.
 * `application/graphql-response+json`: the code's own status. `application/json`
 * (the legacy type, whose non-200 answers a client cannot tell from a proxy's):
 * 200 for the GraphQL errors of a well-formed request (parse, validation,
 * limits, bad input). BAD_REQUEST (not a well-formed request) and every status
 * other than 400 (401, 413, 429, 5xx) keep their status under both. `status`
 * is the error's own, when it has one other than its code's (415, 405).
 */
export function errorStatusFor(code: string, mediaType: string | null, status = httpStatusFor[code] ?? 500): number {
  const legacyJson = !mediaType || !mediaType.startsWith('application/graphql-response+json');
  return legacyJson && status === 400 && code !== ErrorCode.BAD_REQUEST ? 200 : status;
}

export function codedError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extensions } });
}

export const badUserInput = (message: string, extensions: Record<string, unknown> = {}) =>
  codedError(ErrorCode.BAD_USER_INPUT, message, extensions);
export const unauthenticated = (message = 'You must be signed in to do this') =>
  codedError(ErrorCode.UNAUTHENTICATED, message);
export const forbidden = (message: string) => codedError(ErrorCode.FORBIDDEN, message);

/**
 * SQLSTATEs PostgreSQL (and PGlite) raise for text it cannot store: NUL in
 * `text` (22021) or in `jsonb` (22P05). Input checks refuse such text first;
 * this is the backstop for any input that reaches a statement unchecked.
 */
const UNSTORABLE_TEXT = new Set(['22021', '22P05']);

/** A database refusal caused by what the client sent, as the coded error the client should get; null otherwise. */
export function clientErrorOfDatabase(error: unknown): GraphQLError | null {
  const sqlState = (error as { code?: unknown } | null)?.code;
  if (typeof sqlState !== 'string' || !UNSTORABLE_TEXT.has(sqlState)) return null;
  return badUserInput('Text must not contain NUL characters');
}
