import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';

/** The subgraphs in the supergraph, and where each listens by default. */
export const SUBGRAPHS = [
  { name: 'users', url: 'http://127.0.0.1:4001/graphql' },
  { name: 'memes', url: 'http://127.0.0.1:4002/graphql' },
  { name: 'ai', url: 'http://127.0.0.1:4003/graphql' },
] as const;

export type SubgraphName = (typeof SUBGRAPHS)[number]['name'];

export const SUPERGRAPH_PATH = fileURLToPath(new URL('../supergraph.graphql', import.meta.url));

export const subgraphSchemaPath = (name: string) =>
  fileURLToPath(new URL(`../../subgraphs/${name}/schema.graphql`, import.meta.url));

/** Composes the subgraphs' own `schema.graphql` files; throws with every composition error. */
export function composeSupergraph(): string {
  const result = composeServices(
    SUBGRAPHS.map(({ name, url }) => ({ name, url, typeDefs: parse(readFileSync(subgraphSchemaPath(name), 'utf8')) })),
  );
  if (result.errors) {
    throw new Error(`Composition failed:\n${result.errors.map((e) => `  ${e.message}`).join('\n')}`);
  }
  return result.supergraphSdl;
}
