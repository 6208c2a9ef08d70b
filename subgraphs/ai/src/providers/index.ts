export type { GeneratedMeme, GenerationRequest, MemeProvider } from './provider';
export { LocalProvider } from './local';
export { OpenAiProvider, type OpenAiProviderOptions } from './openai';
export { GeminiProvider, type GeminiProviderOptions } from './gemini';
export type { Fetch, HttpProviderOptions } from './http';
export {
  AiServiceUnavailableError,
  BadOutputError,
  KeyRejectedError,
  ProviderError,
  ProviderUnavailableError,
  QuotaError,
  QuotaExceededError,
  redact,
} from './errors';
export {
  KeyPool,
  keyFingerprint,
  type BreakerState,
  type KeyPoolOptions,
  type KeyStats,
  type PoolMember,
} from './keyPool';
export {
  PROVIDER_DEFAULTS,
  createProvider,
  readAiProvidersConfig,
  type AiProvidersConfig,
  type PooledProvider,
  type ProviderConfig,
} from './config';
export { OUTPUT_LIMITS, SYSTEM_PROMPT, clipText, normaliseTag, parseMemeContent, userMessage } from './output';
