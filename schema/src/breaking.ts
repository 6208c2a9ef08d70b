import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Supergraph } from '@apollo/federation-internals';
import {
  buildSchema,
  findBreakingChanges,
  findDangerousChanges,
  lexicographicSortSchema,
  printSchema,
  type GraphQLSchema,
} from 'graphql';

/** The public API schema of the last release: what clients in the field were built against. */
export const RELEASED_API_PATH = fileURLToPath(new URL('../release/api.graphql', import.meta.url));
/** Breaking changes since that release that their author has acknowledged, with the reason. */
export const ACKNOWLEDGED_PATH = fileURLToPath(
  new URL('../release/acknowledged-breaking-changes.json', import.meta.url),
);

export interface SchemaChange {
  type: string;
  description: string;
}

export interface AcknowledgedChange {
  /** graphql-js's description of the change, e.g. "Meme.caption was removed." */
  description: string;
  /** Why breaking clients is acceptable, and how they were told. */
  reason: string;
}

export interface CompatibilityReport {
  breaking: SchemaChange[];
  /** Breaking changes nobody acknowledged: a release with any of these breaks clients without saying so. */
  unacknowledged: SchemaChange[];
  /** Changes that keep old documents valid but can change what clients see (a new enum value, a new default). */
  dangerous: SchemaChange[];
  /** Acknowledgements that match no current breaking change (left over from a release, or a typo). */
  stale: AcknowledgedChange[];
}

/**
 * The API schema clients see: the supergraph without its federation
 * machinery and `@inaccessible` elements, printed in a stable order so the
 * released copy diffs cleanly.
 */
export function apiSchemaSdl(supergraphSdl: string): string {
  // Only the API is wanted here; which features a router can enforce does not matter.
  const api = Supergraph.build(supergraphSdl, { supportedFeatures: null }).apiSchema().toGraphQLJSSchema();
  return printSchema(lexicographicSortSchema(api));
}

const changes = (list: { type: string; description: string }[]): SchemaChange[] =>
  list.map(({ type, description }) => ({ type, description }));

/** Compares the API schema about to ship with the released one. */
export function compareWithRelease(
  releasedSdl: string,
  currentSdl: string,
  acknowledged: AcknowledgedChange[],
): CompatibilityReport {
  const released: GraphQLSchema = buildSchema(releasedSdl);
  const current: GraphQLSchema = buildSchema(currentSdl);
  const breaking = changes(findBreakingChanges(released, current));
  const known = new Set(acknowledged.map((a) => a.description));
  const found = new Set(breaking.map((b) => b.description));
  return {
    breaking,
    unacknowledged: breaking.filter((b) => !known.has(b.description)),
    dangerous: changes(findDangerousChanges(released, current)),
    stale: acknowledged.filter((a) => !found.has(a.description)),
  };
}

export function readAcknowledged(path = ACKNOWLEDGED_PATH): AcknowledgedChange[] {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  const valid =
    Array.isArray(parsed) &&
    parsed.every((a: unknown) => {
      const entry = a as Partial<AcknowledgedChange> | null;
      return typeof entry?.description === 'string' && typeof entry.reason === 'string' && entry.reason.trim() !== '';
    });
  if (!valid)
    throw new Error(
      `${path}: expected a JSON array of { "description": "...", "reason": "..." } with a reason for each`,
    );
  return parsed as AcknowledgedChange[];
}
