import type { FormattedExecutionResult } from 'graphql';

/**
 * The bytes the response cache stored for an answer's `data`, by that data
 * object. Apollo Server writes such an answer around them
 * (`stringifyResult`) rather than serializing the same data a second time.
 * Only the response cache's stages set them, for data nothing changes after
 * (an answer stored, stages/store.ts, or served from the cache through
 * Apollo, stages/responseCache.ts: no field was removed from either).
 */
const serialized = new WeakMap<object, string>();

export function rememberSerialized(data: object, json: string): void {
  serialized.set(data, json);
}

/**
 * Apollo Server's serialization of one answer (`errors`, `data`,
 * `extensions`, in that order, as its own `prettyJSONStringify` writes
 * them), with the stored bytes of its data when there are some.
 */
export function stringifyResult(value: FormattedExecutionResult): string {
  const data = value.data && serialized.get(value.data);
  if (data === undefined) return `${JSON.stringify(value)}\n`;
  let text = '{';
  if (value.errors !== undefined) text += `"errors":${JSON.stringify(value.errors)},`;
  text += `"data":${data}`;
  if (value.extensions !== undefined) text += `,"extensions":${JSON.stringify(value.extensions)}`;
  return `${text}}\n`;
}
