import { z } from 'zod';
import { env, readConfig, type Logger } from '@memegraph/service-kit';
import { GeminiProvider } from './gemini';
import type { Fetch } from './http';
import { KeyPool, keyFingerprint, type KeyStats, type PoolMember } from './keyPool';
import { LocalProvider } from './local';
import { OpenAiProvider } from './openai';
import type { MemeProvider } from './provider';

/** Where each kind answers and which model it uses when the configuration does not say. */
export const PROVIDER_DEFAULTS = {
  openai: { baseUrl: 'https://api.openai.com', model: 'gpt-4o-mini' },
  gemini: { baseUrl: 'https://generativelanguage.googleapis.com', model: 'gemini-2.0-flash' },
} as const;

const providerName = z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'must be 1 to 40 characters of A-Z, a-z, 0-9, _ and -');
// Printable ASCII only: a stray newline would make fetch refuse the header, quoting it in its error.
const apiKey = z
  .string()
  .regex(/^[\x21-\x7e]{1,500}$/, 'every key must be 1 to 500 printable ASCII characters without spaces');

const httpProvider = <K extends 'openai' | 'gemini'>(kind: K) =>
  z.strictObject({
    kind: z.literal(kind),
    name: providerName.optional(),
    baseUrl: z.url({ protocol: /^https?$/ }).optional(),
    model: z.string().min(1).max(200).optional(),
    keys: z.array(apiKey).min(1, 'needs at least one key'),
  });

const providerEntry = z.discriminatedUnion('kind', [
  httpProvider('openai'),
  httpProvider('gemini'),
  // The offline provider has nothing to configure; a `name` is accepted (and ignored: it is always `local`).
  z.object({ kind: z.literal('local') }),
]);

/** One configured provider, defaults filled in. */
export type ProviderConfig =
  | { kind: 'openai' | 'gemini'; name: string; baseUrl: string; model: string; keys: string[] }
  | { kind: 'local'; name: 'local' };

const providerList = z
  .string()
  .optional()
  .transform((text, ctx): unknown => {
    if (text === undefined || text.trim() === '') return [{ kind: 'local' }];
    try {
      return JSON.parse(text);
    } catch {
      // Not the parser's message: V8 quotes the text around the error, and the text holds API keys.
      ctx.addIssue({ code: 'custom', message: 'must be a JSON array of providers, e.g. [{"kind":"local"}]' });
      return z.NEVER;
    }
  })
  .pipe(z.array(providerEntry).min(1, 'must name at least one provider'))
  .transform((entries): ProviderConfig[] =>
    entries.map((entry) =>
      entry.kind === 'local'
        ? { kind: 'local', name: 'local' }
        : {
            kind: entry.kind,
            name: entry.name ?? entry.kind,
            baseUrl: entry.baseUrl ?? PROVIDER_DEFAULTS[entry.kind].baseUrl,
            model: entry.model ?? PROVIDER_DEFAULTS[entry.kind].model,
            keys: entry.keys,
          },
    ),
  )
  .superRefine((providers, ctx) => {
    const names = providers.map((p) => p.name);
    names.forEach((name, i) => {
      if (names.indexOf(name) !== i)
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `provider name "${name}" is used twice` });
    });
    const keys = providers.flatMap((p) => (p.kind === 'local' ? [] : p.keys));
    if (new Set(keys).size !== keys.length)
      ctx.addIssue({ code: 'custom', message: 'the same API key is listed twice' });
  });

/** The AI provider settings, read once at start. */
export interface AiProvidersConfig {
  providers: ProviderConfig[];
  /** `AI_ATTEMPT_TIMEOUT_MS`: time limit of one attempt on one key. */
  attemptTimeoutMs: number;
  /** `AI_BREAKER_HALF_OPEN_MS`: how long a key's open circuit rests before a probe. */
  breakerHalfOpenMs: number;
  /** `AI_BREAKER_THRESHOLD`: consecutive failures that open a key's circuit. */
  breakerThreshold: number;
  /** `AI_RETRY_BASE_MS`: first backoff between attempts (doubles, with jitter). */
  retryBaseMs: number;
  /** `AI_RATE_COOLDOWN_MS`: rest for a throttled key that said no Retry-After. */
  rateCooldownMs: number;
  /** `AI_QUOTA_COOLDOWN_MS`: rest for a key out of quota that said no Retry-After. */
  quotaCooldownMs: number;
}

/**
 * Reads `AI_PROVIDERS` (a JSON array; unset means `[{"kind":"local"}]`) and
 * the pool's tuning variables, failing fast with a message that names the
 * variable and never quotes a key.
 */
export function readAiProvidersConfig(vars: Record<string, string | undefined>): AiProvidersConfig {
  const config = readConfig(
    {
      AI_PROVIDERS: providerList,
      AI_ATTEMPT_TIMEOUT_MS: env.int(15_000, 1),
      AI_BREAKER_HALF_OPEN_MS: env.int(10_000, 1),
      AI_BREAKER_THRESHOLD: env.int(5, 1),
      AI_RETRY_BASE_MS: env.int(200, 0),
      AI_RATE_COOLDOWN_MS: env.int(5_000, 0),
      AI_QUOTA_COOLDOWN_MS: env.int(60_000, 0),
    },
    vars,
  );
  return {
    providers: config.AI_PROVIDERS,
    attemptTimeoutMs: config.AI_ATTEMPT_TIMEOUT_MS,
    breakerHalfOpenMs: config.AI_BREAKER_HALF_OPEN_MS,
    breakerThreshold: config.AI_BREAKER_THRESHOLD,
    retryBaseMs: config.AI_RETRY_BASE_MS,
    rateCooldownMs: config.AI_RATE_COOLDOWN_MS,
    quotaCooldownMs: config.AI_QUOTA_COOLDOWN_MS,
  };
}

/** A provider that also reports on its keys. */
export type PooledProvider = MemeProvider & { stats(): KeyStats[] };

/**
 * Builds the configured providers into one. Every key becomes a member of a
 * `KeyPool`; `local`, when listed beside hosted providers, only serves when
 * none of them can. `local` alone is a pool of one pseudo-key, so stats look
 * the same whatever is configured.
 */
export function createProvider(
  config: AiProvidersConfig,
  log: Logger,
  options: { fetch?: Fetch } = {},
): PooledProvider {
  const hosted = config.providers.some((p) => p.kind !== 'local');
  const members: PoolMember[] = config.providers.flatMap((p): PoolMember[] => {
    if (p.kind === 'local') return [{ provider: new LocalProvider(), fingerprint: null, fallback: hosted }];
    const Adapter = p.kind === 'openai' ? OpenAiProvider : GeminiProvider;
    return p.keys.map((key) => ({
      provider: new Adapter({ name: p.name, baseUrl: p.baseUrl, model: p.model, apiKey: key, fetch: options.fetch }),
      fingerprint: keyFingerprint(key),
    }));
  });
  return new KeyPool(members, {
    log,
    attemptTimeoutMs: config.attemptTimeoutMs,
    halfOpenAfterMs: config.breakerHalfOpenMs,
    breakerThreshold: config.breakerThreshold,
    retryBaseMs: config.retryBaseMs,
    rateCooldownMs: config.rateCooldownMs,
    quotaCooldownMs: config.quotaCooldownMs,
  });
}
