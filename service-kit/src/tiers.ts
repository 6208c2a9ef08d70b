import { z } from 'zod';

export const TIERS = ['anonymous', 'free', 'premium', 'enterprise'] as const;
export type Tier = (typeof TIERS)[number];

export const Scope = {
  READ: 'memes:read',
  WRITE: 'memes:write',
  AI: 'memes:ai',
  ADMIN: 'admin',
} as const;

const tierLimits = z.object({
  name: z.string(),
  monthlyPriceCents: z.number().int().min(0),
  requestsPerMinute: z.number().int().positive(),
  maxCostPerOperation: z.number().int().positive(),
  costBucketCapacity: z.number().int().positive(),
  costRestorePerSecond: z.number().int().positive(),
  aiGenerationsPerMinute: z.number().int().min(0),
  /** Queue priority for AI generation; lower runs first. */
  aiPriority: z.number().int().min(1),
  /** Requests per UTC day; past it, RATE_LIMIT_EXCEEDED until midnight. */
  dailyRequestQuota: z.number().int().positive(),
  /** Operation limits, checked before any costly work. */
  maxDepth: z.number().int().positive(),
  maxAliases: z.number().int().min(0),
  maxRootFields: z.number().int().positive(),
  maxTokens: z.number().int().positive(),
  maxDocumentBytes: z.number().int().positive(),
  maxBatchSize: z.number().int().positive(),
  /** Subscriptions (SSE or WebSocket) open at once per viewer, on all routers together. */
  maxSubscriptions: z.number().int().min(0),
  scopes: z.array(z.string()),
});
export type TierLimits = z.infer<typeof tierLimits>;
export type TierTable = Record<Tier, TierLimits>;

/**
 * The one tier table: limits, scopes and priorities. Operators change numbers
 * through `TIERS_JSON` (a partial table merged over this one), not code.
 */
export const DEFAULT_TIERS: TierTable = {
  anonymous: {
    name: 'Anonymous',
    monthlyPriceCents: 0,
    requestsPerMinute: 100,
    maxCostPerOperation: 200,
    costBucketCapacity: 1_000,
    costRestorePerSecond: 50,
    aiGenerationsPerMinute: 0,
    aiPriority: 100,
    dailyRequestQuota: 10_000,
    maxDepth: 10,
    maxAliases: 15,
    maxRootFields: 10,
    maxTokens: 2_000,
    maxDocumentBytes: 8_192,
    maxBatchSize: 1,
    maxSubscriptions: 0,
    scopes: [],
  },
  free: {
    name: 'Free',
    monthlyPriceCents: 0,
    requestsPerMinute: 1_000,
    maxCostPerOperation: 1_000,
    costBucketCapacity: 5_000,
    costRestorePerSecond: 100,
    aiGenerationsPerMinute: 0,
    aiPriority: 50,
    dailyRequestQuota: 100_000,
    maxDepth: 12,
    maxAliases: 30,
    maxRootFields: 15,
    maxTokens: 5_000,
    maxDocumentBytes: 16_384,
    maxBatchSize: 5,
    maxSubscriptions: 2,
    scopes: [Scope.READ, Scope.WRITE],
  },
  premium: {
    name: 'Memes AI',
    monthlyPriceCents: 999,
    requestsPerMinute: 10_000,
    maxCostPerOperation: 5_000,
    costBucketCapacity: 20_000,
    costRestorePerSecond: 500,
    aiGenerationsPerMinute: 100,
    aiPriority: 10,
    dailyRequestQuota: 1_000_000,
    maxDepth: 15,
    maxAliases: 50,
    maxRootFields: 20,
    maxTokens: 10_000,
    maxDocumentBytes: 32_768,
    maxBatchSize: 10,
    maxSubscriptions: 10,
    scopes: [Scope.READ, Scope.WRITE, Scope.AI],
  },
  enterprise: {
    name: 'Enterprise',
    monthlyPriceCents: 49_900,
    requestsPerMinute: 100_000,
    maxCostPerOperation: 20_000,
    costBucketCapacity: 100_000,
    costRestorePerSecond: 2_000,
    aiGenerationsPerMinute: 500,
    aiPriority: 1,
    dailyRequestQuota: 10_000_000,
    maxDepth: 20,
    maxAliases: 100,
    maxRootFields: 30,
    maxTokens: 20_000,
    maxDocumentBytes: 65_536,
    maxBatchSize: 20,
    maxSubscriptions: 100,
    scopes: [Scope.READ, Scope.WRITE, Scope.AI],
  },
};

/** The default table with the operator's `TIERS_JSON` overrides merged in. */
export function loadTiers(json: string | undefined): TierTable {
  if (!json) return DEFAULT_TIERS;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error('Invalid configuration:\n  TIERS_JSON: not valid JSON');
  }
  const overrides = z.partialRecord(z.enum(TIERS), tierLimits.partial().strict()).safeParse(raw);
  if (!overrides.success) {
    throw new Error(
      `Invalid configuration:\n  TIERS_JSON: ${overrides.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`,
    );
  }
  const table = { ...DEFAULT_TIERS };
  for (const tier of TIERS) table[tier] = { ...DEFAULT_TIERS[tier], ...overrides.data[tier] };
  return table;
}
