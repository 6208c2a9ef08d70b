/**
 * Tags a mutation purges beyond the entities in its own response: new memes
 * change every list of memes; plan and key changes change what `me` shows.
 * `{viewer}` stands for the signed-in user's id.
 */
export interface PurgeRule {
  tags: readonly string[];
  /**
   * The mutation changes what its viewer may see (plan, keys): nothing it
   * purges is kept as a stale copy, which a subgraph failure would serve.
   * Mutations named in ENTITLEMENT_MUTATIONS count as such too.
   */
  entitlement?: boolean;
}

export const PURGE_RULES: Readonly<Record<string, PurgeRule>> = {
  createMeme: { tags: ['Meme:list', 'User:{viewer}'] },
  subscribe: { tags: ['User:{viewer}'], entitlement: true },
  cancelSubscription: { tags: ['User:{viewer}'], entitlement: true },
  createApiKey: { tags: ['User:{viewer}'] },
  revokeApiKey: { tags: ['User:{viewer}'], entitlement: true },
  generateMeme: { tags: ['Meme:list', 'User:{viewer}'] },
};

/** A root field of an operation: the schema's name and the key its value has in the response. */
export interface RootField {
  name: string;
  responseKey: string;
}

/** One purge to make: its tags, and whether stale copies of what it removes may be kept. */
export interface MutationPurge {
  tags: string[];
  keepStale: boolean;
}

/**
 * What a mutation's result purges. Only root fields that happened count: a
 * value at their response key and no error at that path (a refused,
 * unauthorized or failed field changed nothing). The entities in the
 * response are purged too. Purges after an entitlement change keep no stale
 * copy, and come last, so they also remove copies the others kept.
 */
export function mutationPurges(input: {
  fields: readonly RootField[];
  data: Record<string, unknown> | null | undefined;
  errors: readonly { path?: readonly (string | number)[] }[] | undefined;
  /** Entities in the response (see withoutEntityIds). */
  entityTags: Iterable<string>;
  userId: string | null;
  entitlementMutations: ReadonlySet<string>;
}): MutationPurge[] {
  const failedAt = new Set((input.errors ?? []).flatMap((e) => (e.path?.length === 1 ? [String(e.path[0])] : [])));
  const happened = input.fields.filter((f) => input.data?.[f.responseKey] != null && !failedAt.has(f.responseKey));
  if (happened.length === 0) return [];
  const viewerTags = (tags: readonly string[]) =>
    tags.flatMap((tag) =>
      tag.includes('{viewer}') ? (input.userId ? [tag.replace('{viewer}', input.userId)] : []) : [tag],
    );
  const isEntitlement = (f: RootField) => !!PURGE_RULES[f.name]?.entitlement || input.entitlementMutations.has(f.name);
  const entitled = happened.filter(isEntitlement);
  const drop = new Set(entitled.flatMap((f) => viewerTags(PURGE_RULES[f.name]?.tags ?? [])));
  const keep = new Set(
    happened.filter((f) => !isEntitlement(f)).flatMap((f) => viewerTags(PURGE_RULES[f.name]?.tags ?? [])),
  );
  // The response's own entities: after an entitlement change, nothing of it is kept either.
  for (const tag of input.entityTags) (entitled.length > 0 ? drop : keep).add(tag);
  for (const tag of drop) keep.delete(tag);
  return [
    ...(keep.size > 0 ? [{ tags: [...keep], keepStale: true }] : []),
    ...(drop.size > 0 ? [{ tags: [...drop], keepStale: false }] : []),
  ];
}
