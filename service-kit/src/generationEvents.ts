import { z } from 'zod';

/**
 * Changes to AI generations, published by the ai subgraph and its workers on
 * `<REDIS_PREFIX>generation-changes` for every router, which serve them to
 * subscribers (GraphQL subscriptions). A message names the generation and its
 * owner and says what it became; routers read the generation itself through
 * the supergraph, as the owner, so a message carries nothing to leak.
 */
export const GENERATION_CHANGES_CHANNEL = 'generation-changes';

export const GENERATION_STATUSES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED'] as const;
export type GenerationChangeStatus = (typeof GENERATION_STATUSES)[number];

/**
 * A generation's status only moves forward: QUEUED (1), RUNNING (2), then
 * SUCCEEDED or FAILED (3). The number orders the changes of one generation,
 * whichever process published them, so an older one heard late is dropped.
 */
export const GENERATION_VERSION: Record<GenerationChangeStatus, number> = {
  QUEUED: 1,
  RUNNING: 2,
  SUCCEEDED: 3,
  FAILED: 3,
};

const change = z.object({
  id: z.string().min(1).max(40),
  userId: z.string().min(1).max(40),
  status: z.enum(GENERATION_STATUSES),
  version: z.number().int().min(1),
  /**
   * A generation started running, so every one still waiting moved up the
   * line: their queue positions changed though nothing was published for them.
   */
  queueMoved: z.boolean().optional(),
});
export type GenerationChange = z.infer<typeof change>;

export function generationChangeMessage(
  id: string,
  userId: string,
  status: GenerationChangeStatus,
  queueMoved = false,
): string {
  const message: GenerationChange = { id, userId, status, version: GENERATION_VERSION[status] };
  if (queueMoved) message.queueMoved = true;
  return JSON.stringify(message);
}

/** The change a message announces; null for anything else (another version's message, a stray PUBLISH). */
export function readGenerationChange(message: string): GenerationChange | null {
  try {
    const parsed = change.safeParse(JSON.parse(message));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
