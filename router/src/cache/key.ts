import { createHash } from 'node:crypto';
import { Kind, print, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import type { Viewer } from '@memegraph/service-kit';
import type { CachePolicy } from './policy';

/** JSON with object keys sorted, so `{a,b}` and `{b,a}` give the same key. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * A digest of the document printed canonically (the chosen operation and
 * the fragments, in name order), so whitespace and definition order do not
 * matter. Computed once per document, not per request.
 */
export function documentKey(document: DocumentNode, operation: OperationDefinitionNode): string {
  const fragments = document.definitions
    .filter((d) => d.kind === Kind.FRAGMENT_DEFINITION)
    .map((d) => print(d))
    .sort();
  return createHash('sha256')
    .update([print(operation), ...fragments].join('\n'))
    .digest('base64url');
}

/**
 * The response cache key: what is asked (normalized document, operation
 * name, variables), what the viewer may see (tier and scopes), and for
 * PRIVATE data who the viewer is.
 */
export function responseCacheKey(input: {
  documentKey: string;
  operationName: string | null;
  variables: Record<string, unknown>;
  viewer: Viewer;
  viewerKey: string;
  policy: CachePolicy;
}): string {
  const partition = `${input.viewer.tier}|${[...input.viewer.scopes].sort().join(' ')}`;
  const who = input.policy.scope === 'PRIVATE' ? input.viewerKey : '*';
  return (
    createHash('sha256')
      // The entry's format: since v2 its data is kept serialized, since v3 written as the JSON it is rather than
      // as a string of it (cache/entryCodec.ts), so keys of entries kept otherwise are never read.
      .update('v3\0')
      .update(input.documentKey)
      .update('\0')
      .update(input.operationName ?? '')
      .update('\0')
      .update(stableJson(input.variables))
      .update('\0')
      .update(partition)
      .update('\0')
      .update(who)
      .digest('base64url')
  );
}
