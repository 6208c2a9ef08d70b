import { GraphQLError } from 'graphql';

/**
 * Failures of one provider call, as the adapters report them. They are not
 * GraphQLErrors: the key pool decides what a client sees, and a client never
 * sees which key or upstream failed.
 *
 * Every message is built from redacted text (see `redact`), so an error can be
 * logged whole: upstream bodies sometimes echo the API key they refused.
 */
export abstract class ProviderError extends Error {
  constructor(
    message: string,
    /** The configured provider name (`openai`, `gemini`, …), never a key. */
    readonly provider: string,
    options: { cause?: unknown; status?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status;
  }

  /** The upstream HTTP status, when there was an answer. */
  readonly status: number | undefined;
}

/** The key is throttled (`rate`) or out of quota (`quota`): try another key and let this one cool down. */
export class QuotaError extends ProviderError {
  override readonly name = 'QuotaError';
  readonly kind: 'rate' | 'quota';
  /** How long the upstream asked us to wait, when it said. */
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    provider: string,
    options: { kind: 'rate' | 'quota'; retryAfterMs?: number; status?: number; cause?: unknown },
  ) {
    super(message, provider, options);
    this.kind = options.kind;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** The upstream refused the key (401/403): it is wrong, revoked or lacks access. */
export class KeyRejectedError extends ProviderError {
  override readonly name = 'KeyRejectedError';
}

/** The upstream failed (5xx), could not be reached, or did not answer in time. */
export class ProviderUnavailableError extends ProviderError {
  override readonly name = 'ProviderUnavailableError';
  readonly timedOut: boolean;

  constructor(
    message: string,
    provider: string,
    options: { timedOut?: boolean; status?: number; cause?: unknown } = {},
  ) {
    super(message, provider, options);
    this.timedOut = options.timedOut ?? false;
  }
}

/** The model answered, but not with a meme we can use (not JSON, wrong shape, refused, blocked). */
export class BadOutputError extends ProviderError {
  override readonly name = 'BadOutputError';
}

/** No key could serve the request: every one failed, is broken open, or the attempts ran out. */
export class AiServiceUnavailableError extends GraphQLError {
  override readonly name = 'AiServiceUnavailableError';

  constructor(message = 'The AI service is unavailable, please try again later', cause?: unknown) {
    super(message, { extensions: { code: 'AI_SERVICE_UNAVAILABLE' } });
    // Kept for logs only: a GraphQLError serializes message, path and extensions, never its cause.
    if (cause !== undefined) Object.defineProperty(this, 'cause', { value: cause, enumerable: false });
  }
}

/** Every key is out of quota or throttled; `retryAfter` (seconds) says when the first one is back. */
export class QuotaExceededError extends GraphQLError {
  override readonly name = 'QuotaExceededError';

  constructor(retryAfterMs: number, cause?: unknown) {
    const retryAfter = Math.max(1, Math.ceil(retryAfterMs / 1000));
    super(`The AI providers' quota is used up, please try again in ${retryAfter} s`, {
      extensions: { code: 'QUOTA_EXCEEDED', retryAfter },
    });
    if (cause !== undefined) Object.defineProperty(this, 'cause', { value: cause, enumerable: false });
  }
}

/** Shapes of well-known secrets, redacted even when we were not told the exact value. */
const SECRET_SHAPES = [/\bsk-[A-Za-z0-9_-]{8,}/g, /\bAIza[0-9A-Za-z_-]{20,}/g, /\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/gi];

/** Removes the given secrets (and anything shaped like an API key) from a text. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length > 0) out = out.split(secret).join('[redacted]');
  }
  for (const shape of SECRET_SHAPES) out = out.replace(shape, '[redacted]');
  return out;
}

/**
 * A copy of an error (and its cause chain, a few levels deep) whose messages
 * are redacted. Errors from `fetch` carry nested causes we did not write, so
 * they are never attached as they are.
 */
export function sanitizeError(error: unknown, secrets: readonly string[], depth = 0): Error {
  if (!(error instanceof Error)) return new Error(redact(String(error), secrets));
  const cause = depth < 4 && error.cause !== undefined ? sanitizeError(error.cause, secrets, depth + 1) : undefined;
  const copy = new Error(redact(error.message, secrets), cause === undefined ? undefined : { cause });
  copy.name = error.name;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') Object.assign(copy, { code });
  return copy;
}
