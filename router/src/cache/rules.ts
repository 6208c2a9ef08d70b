/**
 * Tags a mutation purges beyond the entities in its own response: new memes
 * change every list of memes; plan and key changes change what `me` shows.
 * `{viewer}` stands for the signed-in user's id.
 */
export const PURGE_RULES: Readonly<Record<string, readonly string[]>> = {
  createMeme: ['Meme:list', 'User:{viewer}'],
  subscribe: ['User:{viewer}'],
  cancelSubscription: ['User:{viewer}'],
  createApiKey: ['User:{viewer}'],
  revokeApiKey: ['User:{viewer}'],
  generateMeme: ['Meme:list', 'User:{viewer}'],
};

export function purgeTagsFor(mutationFields: readonly string[], userId: string | null): string[] {
  const tags = mutationFields.flatMap((name) => PURGE_RULES[name] ?? []);
  return tags.flatMap((tag) => (tag.includes('{viewer}') ? (userId ? [tag.replace('{viewer}', userId)] : []) : [tag]));
}
