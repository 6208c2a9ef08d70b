import { createHash } from 'node:crypto';
import { Kind, print, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import type { Viewer } from '@memegraph/service-kit';
import type { CachePolicy } from './policy';

/** JSON with object keys sorted, so `{a,b}` and `{b,a}` give the same key. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The document printed canonically: the chosen operation and the fragments, in name order. */
export function normalizedDocument(document: DocumentNode, operation: OperationDefinitionNode): string {
  const fragments = document.definitions
    .filter((d) => d.kind === Kind.FRAGMENT_DEFINITION)
    .map((d) => print(d))
    .sort();
  return [print(operation), ...fragments].join('\n');
}

/**
 * The response cache key: what is asked (normalized document, operation
 * name, variables), what the viewer may see (tier and scopes), and for
 * PRIVATE data who the viewer is.
 */
export function responseCacheKey(input: {
  normalized: string;
  operationName: string | null;
  variables: Record<string, unknown>;
  viewer: Viewer;
  viewerKey: string;
  policy: CachePolicy;
}): string {
  const partition = `${input.viewer.tier}|${[...input.viewer.scopes].sort().join(' ')}`;
  const who = input.policy.scope === 'PRIVATE' ? input.viewerKey : '*';
  return createHash('sha256')
    .update(input.normalized)
    .update('\0')
    .update(input.operationName ?? '')
    .update('\0')
    .update(stableJson(input.variables))
    .update('\0')
    .update(partition)
    .update('\0')
    .update(who)
    .digest('base64url');
}
