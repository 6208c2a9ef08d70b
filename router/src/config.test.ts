import { describe, expect, it } from 'vitest';
import { loadRouterConfig } from './config';

const SECRETS = { SUBGRAPH_SIGNING_SECRET: 's'.repeat(32), JWT_SECRET: 'j'.repeat(32) };

describe('router configuration', () => {
  it('reads each setting into its field, with defaults for what is unset or empty', () => {
    const config = loadRouterConfig({
      ...SECRETS,
      PORT: '4100',
      REDIS_URL: 'redis://127.0.0.1:6379',
      AUTH_FAILURE_WINDOW_SECONDS: '60',
      STALE_IF_ERROR_SECONDS: '',
      SUBGRAPH_URL_MEMES: 'http://memes.internal:4002/graphql',
      TRUST_PROXY: 'loopback, 10.0.0.0/8',
      CDN_PURGE_URL: 'https://cdn.example/purge',
    });
    expect(config).toMatchObject({
      port: 4100,
      host: '127.0.0.1',
      redis: { url: 'redis://127.0.0.1:6379' },
      authFailureWindowMs: 60_000,
      staleIfErrorSeconds: 300,
      viewerCacheLocalMs: 30_000,
      subgraphUrls: { memes: 'http://memes.internal:4002/graphql' },
      trustProxy: ['loopback', '10.0.0.0/8'],
      cdnPurge: { url: 'https://cdn.example/purge', maxQueue: 1_000, attempts: 5, timeoutMs: 5_000 },
      trustedDocuments: { mode: 'off', byTier: {}, byClient: {} },
    });
    expect(config.entitlementMutations.has('revokeApiKey')).toBe(true);
    // Without Redis nothing invalidates a cached viewer: it is trusted briefly.
    expect(loadRouterConfig(SECRETS).viewerCacheLocalMs).toBe(1_000);
  });

  it('fails at start naming every bad variable', () => {
    expect(() =>
      loadRouterConfig({
        SUBGRAPH_SIGNING_SECRET: 'short',
        JWT_SECRET: 'j'.repeat(32),
        PORT: 'x',
        TRUST_PROXY: 'nowhere',
      }),
    ).toThrow(
      /Invalid configuration:\n(?=[\s\S]*SUBGRAPH_SIGNING_SECRET: must be at least 32 characters)(?=[\s\S]*PORT:)(?=[\s\S]*TRUST_PROXY:)/,
    );
    expect(() => loadRouterConfig({ ...SECRETS, SUBGRAPH_URL_USERS: 'not a url' })).toThrow(
      /SUBGRAPH_URL_USERS: not a URL/,
    );
    expect(() => loadRouterConfig({ ...SECRETS, TRUSTED_DOCUMENTS_MODE_BY_TIER: '{"gold":"enforce"}' })).toThrow(
      /TRUSTED_DOCUMENTS_MODE_BY_TIER: must be JSON like/,
    );
  });
});
