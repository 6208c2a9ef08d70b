import type { ErrorCode } from '@memegraph/service-kit';

export interface ErrorGuide {
  /** When a client gets the code. */
  when: string;
  /** What a client should do about it. */
  todo: string;
  /** Other statuses the code comes with, beside its own (`httpStatusFor`). */
  statusNote?: string;
}

/**
 * What each error code means to a client, for the API reference. Keyed by
 * service-kit's codes, so a code added there does not type-check until it is
 * explained here; the statuses come from service-kit itself.
 */
export const ERROR_GUIDE: Record<ErrorCode, ErrorGuide> = {
  UNAUTHENTICATED: {
    when: 'a credential was sent but is invalid, expired or revoked; or sign-in is needed',
    todo: 'Sign in again (`logIn`) or use another API key; never retry with the same credential. Without a credential, sign in first.',
  },
  FORBIDDEN: {
    when: 'signed in, but the tier or ownership does not allow it',
    todo: 'Do not retry. Upgrade the plan (`subscribe`) or act on your own things only.',
  },
  UNAUTHORIZED_FIELD_OR_TYPE: {
    when: 'a field needs sign-in or a scope the viewer lacks (e.g. `memes:ai`)',
    todo: 'The rest of the answer is good. Sign in, or for `memes:ai` fields upgrade to Memes AI (`subscribe(plan: PREMIUM)`); or leave the field out.',
    statusNote: '200 with partial data; 403 when nothing is left',
  },
  BAD_USER_INPUT: {
    when: 'an argument is invalid (page size, cursor, handle, prompt, …); text with a NUL byte',
    todo: 'Fix the argument named in `extensions.argumentName` (the message says what is wrong); do not retry unchanged.',
  },
  BAD_REQUEST: {
    when: 'malformed JSON or HTTP request (405: not GET or POST; 415: a POST body that is not JSON; JSON nested deeper than 64 levels)',
    todo: 'Fix the request: POST JSON with `content-type: application/json`, or GET with `query` and a CSRF preflight header.',
    statusNote: '405, 415',
  },
  NOT_FOUND: {
    when: 'no such path (GraphQL is served at `/graphql`), image or template',
    todo: 'Check the URL or id; do not retry.',
  },
  PAYLOAD_TOO_LARGE: {
    when: 'body over `BODY_LIMIT_BYTES`',
    todo: 'Send a smaller request: fewer operations in a batch, smaller variables.',
  },
  GRAPHQL_PARSE_FAILED: {
    when: 'the document does not parse',
    todo: 'Fix the syntax at `locations`; do not retry unchanged.',
  },
  GRAPHQL_VALIDATION_FAILED: {
    when: 'the document does not validate against the schema, or names an alias or variable with the reserved prefix `memegraph`',
    todo: 'Fix the document against this reference (a field or argument name, a type), or rename what the message names; do not retry unchanged.',
  },
  OPERATION_RESOLUTION_FAILURE: {
    when: '`operationName` names no operation of the document, or the document has several and none is named',
    todo: 'Send `operationName` naming one operation of the document.',
  },
  PERSISTED_QUERY_NOT_FOUND: {
    when: 'an APQ hash the router does not know yet',
    todo: 'Send the same request again with the query text beside its hash (Apollo Client does this by itself).',
  },
  PERSISTED_QUERY_NOT_IN_LIST: {
    when: 'trusted documents are enforced and the operation is not in the list by id',
    todo: 'Send the operation by its id from the manifest, or add it to the manifest and deploy.',
  },
  DOCUMENT_TOO_LARGE: {
    when: "the document is over the tier's byte limit",
    todo: 'Send a smaller document (fewer fields, fragments), a persisted query, or use a higher tier.',
  },
  MAX_TOKENS_EXCEEDED: {
    when: "the operation has more tokens than the tier's limit, or, its fragments spread out wherever they are used, more than 100,000 selections",
    todo: 'Ask for fewer fields, spread fragments fewer times or split the operation; higher tiers allow more tokens.',
  },
  MAX_DEPTH_EXCEEDED: {
    when: "the operation nests deeper than the tier's limit",
    todo: 'Flatten the selection (fetch nested things in a second operation); higher tiers allow more.',
  },
  MAX_ALIASES_EXCEEDED: {
    when: "the operation has more aliases than the tier's limit",
    todo: 'Use fewer aliases or split the operation; higher tiers allow more.',
  },
  MAX_ROOT_FIELDS_EXCEEDED: {
    when: "the operation has more root fields than the tier's limit",
    todo: 'Split the operation; higher tiers allow more.',
  },
  BATCH_TOO_LARGE: {
    when: 'a batch holds more operations than the tier allows',
    todo: 'Send smaller batches; higher tiers allow more.',
  },
  COST_ESTIMATED_TOO_EXPENSIVE: {
    when: "the operation's estimated cost is over the tier's maximum (`extensions.cost.estimated`, `.max`)",
    todo: 'Ask for smaller pages (`first`) or fewer costly fields; `rateLimit(dryRun: true)` prices an operation for free.',
  },
  THROTTLED: {
    when: "the viewer's cost bucket is empty",
    todo: 'Wait `Retry-After` seconds, then retry; the bucket refills every second.',
    statusNote: '429 + `Retry-After`',
  },
  RATE_LIMIT_EXCEEDED: {
    when: 'requests per minute, the daily quota (`extensions.quota: "daily"`), a field\'s `@rateLimit`, AI generations per minute, too many refused credentials from one address, or too many failed log-ins for a handle or from an address (`extensions.retryAfter`)',
    todo: 'Wait `Retry-After` (or `extensions.retryAfter`, `retryAfterSeconds`) seconds before retrying; the daily quota resets at midnight UTC.',
    statusNote: '429 + `Retry-After`',
  },
  QUEUE_OVERLOADED: {
    when: 'the AI generation waiting line is full',
    todo: 'Retry the generation later, with backoff.',
  },
  AI_SERVICE_UNAVAILABLE: {
    when: 'no provider key can serve (recorded on the generation)',
    todo: 'Start a new generation later, with backoff.',
  },
  QUOTA_EXCEEDED: {
    when: 'every provider key is out of quota (recorded on the generation)',
    todo: 'Start a new generation later; provider quotas recover over minutes.',
  },
  TASK_FAILED: {
    when: 'a generation failed for another reason (recorded on the generation)',
    todo: 'Start a new generation, perhaps with another prompt or template.',
  },
  DOWNSTREAM_SERVICE_ERROR: {
    when: 'a subgraph failed, timed out or has its circuit open (`extensions.serviceName`); the rest of the response is served',
    todo: 'Use the rest of the answer; retry the failed fields later, with backoff.',
    statusNote: '200 with partial data; 502 when nothing is left',
  },
  INTERNAL_SERVER_ERROR: {
    when: 'anything unexpected; no internals are sent',
    todo: 'Retry once later; if it persists, report it with the `x-request-id` of the answer.',
  },
};
