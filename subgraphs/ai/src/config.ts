import { env } from '@memegraph/service-kit';
import type { QueueSettings } from './generations/queue';

/**
 * The queue's defaults. A catalog outage is ridden out by running a job
 * again with exponential backoff: up to 1, 2, 4 … s, at most 60 s apart
 * (each wait half fixed, half random), 20 runs in all: 7 to 14 minutes
 * before a generation is given up as FAILED.
 */
export const DEFAULT_QUEUE_SETTINGS: QueueSettings = {
  concurrency: 20,
  maxWaiting: 1_000,
  jobTimeoutMs: 60_000,
  attempts: 20,
  retryDelayMs: 1_000,
  maxRetryDelayMs: 60_000,
};

/** The queue settings the ai subgraph and its workers both read: they must agree on them. */
export const queueEnv = {
  AI_CONCURRENCY: env.int(DEFAULT_QUEUE_SETTINGS.concurrency, 1),
  AI_MAX_WAITING: env.int(DEFAULT_QUEUE_SETTINGS.maxWaiting, 1),
  AI_JOB_TIMEOUT_MS: env.int(DEFAULT_QUEUE_SETTINGS.jobTimeoutMs, 100),
  AI_JOB_ATTEMPTS: env.int(DEFAULT_QUEUE_SETTINGS.attempts, 1),
  AI_CATALOG_RETRY_DELAY_MS: env.int(DEFAULT_QUEUE_SETTINGS.retryDelayMs, 1),
  AI_CATALOG_RETRY_MAX_DELAY_MS: env.int(DEFAULT_QUEUE_SETTINGS.maxRetryDelayMs, 1),
};

export function queueSettingsOf(config: {
  AI_CONCURRENCY: number;
  AI_MAX_WAITING: number;
  AI_JOB_TIMEOUT_MS: number;
  AI_JOB_ATTEMPTS: number;
  AI_CATALOG_RETRY_DELAY_MS: number;
  AI_CATALOG_RETRY_MAX_DELAY_MS: number;
}): QueueSettings {
  return {
    concurrency: config.AI_CONCURRENCY,
    maxWaiting: config.AI_MAX_WAITING,
    jobTimeoutMs: config.AI_JOB_TIMEOUT_MS,
    attempts: config.AI_JOB_ATTEMPTS,
    retryDelayMs: config.AI_CATALOG_RETRY_DELAY_MS,
    maxRetryDelayMs: Math.max(config.AI_CATALOG_RETRY_MAX_DELAY_MS, config.AI_CATALOG_RETRY_DELAY_MS),
  };
}
