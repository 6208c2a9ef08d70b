import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createProvider, readAiProvidersConfig } from './config';

const KEY = 'memegraph-config-key-0123456789';
const silent = pino({ level: 'silent' });

const configError = (vars: Record<string, string>): string => {
  try {
    readAiProvidersConfig(vars);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be refused');
};

describe('readAiProvidersConfig', () => {
  it('defaults to the local provider and the documented timings', () => {
    expect(readAiProvidersConfig({})).toEqual({
      providers: [{ kind: 'local', name: 'local' }],
      attemptTimeoutMs: 15_000,
      breakerHalfOpenMs: 10_000,
      breakerThreshold: 5,
      retryBaseMs: 200,
      rateCooldownMs: 5_000,
      quotaCooldownMs: 60_000,
    });
  });

  it('reads a list of providers, filling in names, URLs and models', () => {
    const config = readAiProvidersConfig({
      AI_PROVIDERS: JSON.stringify([
        { name: 'openai', kind: 'openai', baseUrl: 'https://llm.example', model: 'gpt-4o-mini', keys: ['k1', 'k2'] },
        { kind: 'gemini', keys: ['g1'] },
        { name: 'local', kind: 'local' },
      ]),
      AI_ATTEMPT_TIMEOUT_MS: '500',
      AI_BREAKER_HALF_OPEN_MS: '300',
    });
    expect(config.providers).toEqual([
      { kind: 'openai', name: 'openai', baseUrl: 'https://llm.example', model: 'gpt-4o-mini', keys: ['k1', 'k2'] },
      {
        kind: 'gemini',
        name: 'gemini',
        baseUrl: 'https://generativelanguage.googleapis.com',
        model: 'gemini-2.0-flash',
        keys: ['g1'],
      },
      { kind: 'local', name: 'local' },
    ]);
    expect(config).toMatchObject({ attemptTimeoutMs: 500, breakerHalfOpenMs: 300 });
  });

  it('names the variable and never quotes a key when the JSON is broken', () => {
    const message = configError({ AI_PROVIDERS: `[{"kind":"openai","keys":["${KEY}"]` });
    expect(message).toContain('AI_PROVIDERS');
    expect(message).toMatch(/JSON array/);
    expect(message).not.toContain(KEY);
  });

  it('points at the bad field of a provider', () => {
    const message = configError({
      AI_PROVIDERS: JSON.stringify([{ kind: 'openai', baseUrl: 'not a url', keys: [KEY] }]),
    });
    expect(message).toContain('AI_PROVIDERS.0.baseUrl');
    expect(message).not.toContain(KEY);
    expect(configError({ AI_PROVIDERS: JSON.stringify([{ kind: 'openai', keys: [] }]) })).toContain(
      'AI_PROVIDERS.0.keys',
    );
    expect(configError({ AI_PROVIDERS: JSON.stringify([{ kind: 'openai', keys: [KEY], modle: 'x' }]) })).toContain(
      'modle',
    );
    expect(configError({ AI_PROVIDERS: JSON.stringify([{ kind: 'claude', keys: [KEY] }]) })).toContain(
      'AI_PROVIDERS.0.kind',
    );
    expect(configError({ AI_PROVIDERS: '[]' })).toContain('at least one provider');
    expect(configError({ AI_ATTEMPT_TIMEOUT_MS: 'soon' })).toContain('AI_ATTEMPT_TIMEOUT_MS');
  });

  it('refuses keys with spaces, duplicate keys and duplicate names, without quoting keys', () => {
    const spaced = configError({ AI_PROVIDERS: JSON.stringify([{ kind: 'openai', keys: [`${KEY}\n`] }]) });
    expect(spaced).toContain('AI_PROVIDERS.0.keys.0');
    expect(spaced).not.toContain(KEY);
    const twice = configError({
      AI_PROVIDERS: JSON.stringify([
        { kind: 'openai', keys: [KEY] },
        { kind: 'gemini', keys: [KEY] },
      ]),
    });
    expect(twice).toContain('listed twice');
    expect(twice).not.toContain(KEY);
    expect(
      configError({
        AI_PROVIDERS: JSON.stringify([
          { kind: 'openai', keys: ['a'] },
          { kind: 'openai', keys: ['b'] },
        ]),
      }),
    ).toContain('AI_PROVIDERS.1.name');
  });
});

describe('createProvider', () => {
  it('makes local alone a pool of one pseudo-key named local', async () => {
    const provider = createProvider(readAiProvidersConfig({}), silent);
    expect(provider.name).toBe('local');
    const meme = await provider.generate({
      prompt: 'when it works offline',
      template: { id: '1', name: 'Drake' },
      captions: [],
    });
    expect(meme.topText).toBe('when it works offline');
    expect(provider.stats()).toEqual([
      expect.objectContaining({
        id: 'local#0',
        provider: 'local',
        index: 0,
        fingerprint: null,
        fallback: false,
        successes: 1,
        breaker: 'closed',
      }),
    ]);
  });

  it('makes one member per key, with local as the fallback', () => {
    const config = readAiProvidersConfig({
      AI_PROVIDERS: JSON.stringify([
        { kind: 'openai', keys: ['k1', 'k2', 'k3'] },
        { name: 'backup', kind: 'gemini', keys: ['g1'] },
        { kind: 'local' },
      ]),
    });
    const provider = createProvider(config, silent);
    expect(provider.name).toBe('openai+backup+local');
    expect(provider.stats().map((s) => s.id.replace(/:[0-9a-f]{8}$/, ''))).toEqual([
      'openai#0',
      'openai#1',
      'openai#2',
      'backup#0',
      'local#0',
    ]);
    expect(provider.stats().map((s) => s.fallback)).toEqual([false, false, false, false, true]);
  });
});
