import { injectTraceContext } from '@memegraph/service-kit';
import { KeyRejectedError, ProviderUnavailableError, QuotaError, redact, sanitizeError } from './errors';

/** `fetch` as the adapters use it; tests may pass their own. */
export type Fetch = (input: string | URL, init: RequestInit) => Promise<Response>;

/** What every HTTP adapter is configured with. One adapter instance holds one key. */
export interface HttpProviderOptions {
  /** The configured provider name, used in errors and logs. */
  name: string;
  /** Where the API answers, without the version path (e.g. `https://api.openai.com`). */
  baseUrl: string;
  model: string;
  apiKey: string;
  fetch?: Fetch;
}

/** A throttling answer is told apart from a refused key by what it says, as well as by its status. */
const QUOTA_TEXT = /quota|rate.?limit|resource.?exhausted|too many requests|insufficient_quota/i;
const HARD_QUOTA_TEXT = /quota|exhausted|billing|insufficient/i;

/** Cooling down longer than this is the operator's job (a new key), not the pool's. */
const MAX_RETRY_AFTER_MS = 15 * 60_000;

/** `Retry-After` as seconds or an HTTP date; Gemini also says `retryDelay: "13s"` in its body. */
export function parseRetryAfter(header: string | null, body: string, now = Date.now()): number | undefined {
  let ms: number | undefined;
  if (header !== null && header.trim() !== '') {
    const value = header.trim();
    if (/^\d+(\.\d+)?$/.test(value)) ms = Number(value) * 1000;
    else {
      const at = Date.parse(value);
      if (!Number.isNaN(at)) ms = Math.max(0, at - now);
    }
  }
  if (ms === undefined) {
    const delay = /"retryDelay"\s*:\s*"(\d+(?:\.\d+)?)s"/.exec(body);
    if (delay) ms = Number(delay[1]) * 1000;
  }
  return ms === undefined ? undefined : Math.min(Math.round(ms), MAX_RETRY_AFTER_MS);
}

/** The upstream's own error message, when its body has the usual `{ error: { message } }` shape. */
function upstreamMessage(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    const error = typeof parsed === 'object' && parsed !== null ? (parsed as { error?: unknown }).error : undefined;
    const message = typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : error;
    if (typeof message === 'string') return message;
  } catch {
    // Not JSON: the raw text below will do.
  }
  return body;
}

/**
 * POSTs a JSON body and returns the parsed JSON answer, or throws the typed
 * error the key pool acts on. The key only ever travels in `headers`; every
 * message that quotes the upstream is redacted, since upstreams echo keys.
 */
export async function postJson(
  options: HttpProviderOptions,
  url: URL,
  headers: Record<string, string>,
  body: unknown,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  const secrets = [options.apiKey];
  const doFetch = options.fetch ?? fetch;
  const where = `${options.name} (${url.host})`;
  let response: Response;
  let text: string;
  try {
    response = await doFetch(url, {
      method: 'POST',
      headers: injectTraceContext({ 'content-type': 'application/json', accept: 'application/json', ...headers }),
      body: JSON.stringify(body),
      signal,
    });
    text = await response.text();
  } catch (error) {
    if (signal?.aborted) {
      const timedOut = signal.reason instanceof Error && signal.reason.name === 'TimeoutError';
      throw new ProviderUnavailableError(
        `${where} ${timedOut ? 'did not answer in time' : 'call was aborted'}`,
        options.name,
        {
          timedOut,
          cause: sanitizeError(signal.reason, secrets),
        },
      );
    }
    throw new ProviderUnavailableError(`${where} could not be reached`, options.name, {
      cause: sanitizeError(error, secrets),
    });
  }

  if (response.ok) {
    try {
      return JSON.parse(text);
    } catch {
      throw new ProviderUnavailableError(
        `${where} answered ${response.status} with a body that is not JSON`,
        options.name,
        {
          status: response.status,
        },
      );
    }
  }

  const status = response.status;
  const said = redact(upstreamMessage(text).replace(/\s+/g, ' ').trim().slice(0, 200), secrets);
  const message = `${where} answered ${status}${said ? `: ${said}` : ''}`;
  if (status === 429 || (status >= 400 && status < 500 && QUOTA_TEXT.test(text))) {
    throw new QuotaError(message, options.name, {
      kind: HARD_QUOTA_TEXT.test(text) ? 'quota' : 'rate',
      retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), text),
      status,
    });
  }
  if (status === 401 || status === 403) throw new KeyRejectedError(message, options.name, { status });
  // 5xx, and 4xx that are not about the key (a wrong model name, a request the upstream dislikes):
  // neither is fixed by retrying the same key at once, and both are the provider's to answer for.
  throw new ProviderUnavailableError(message, options.name, { status });
}

/** `https://host/prefix/` + `path`, keeping any path prefix the base URL has (proxies, Azure-style gateways). */
export function endpoint(baseUrl: string, path: string): URL {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return new URL(path.replace(/^\//, ''), base);
}
