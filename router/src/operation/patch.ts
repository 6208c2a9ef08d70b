import { PLACEHOLDER } from './rewrite';

/** A field the router took out of the operation, and what to put in its place. */
export interface Removal {
  path: string[];
  nullDepth: number;
  /** For a value: the selected subfields, as [response key, field name] (`GuardedField.selection`). */
  selection?: readonly [string, string][];
  /** Either an error (the field comes back null) or a value the router computed. */
  error?: { code: string; message: string; extensions?: Record<string, unknown> };
  value?: Record<string, unknown>;
}

type Json = Record<string, unknown>;

/** Picks the selected keys (aliases applied) out of a value the router computed. */
function project(value: Json, selection: readonly [string, string][] | undefined, typename: string): Json {
  if (!selection) return value;
  const out: Json = {};
  for (const [key, name] of selection) out[key] = name === '__typename' ? typename : value[name];
  return out;
}

/** Sets `path` (walking into every item of lists on the way) to `make()`. */
function setAt(target: unknown, path: string[], make: () => unknown): void {
  if (target === null || target === undefined) return;
  if (Array.isArray(target)) {
    for (const item of target) setAt(item, path, make);
    return;
  }
  const [head, ...rest] = path;
  if (head === undefined || typeof target !== 'object') return;
  const object = target as Json;
  if (rest.length === 0) object[head] = make();
  else setAt(object[head], rest, make);
}

/** Takes out the stand-ins `withoutFields` put where a selection set became empty. */
function dropPlaceholders(value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) dropPlaceholders(item);
  } else if (value && typeof value === 'object') {
    const object = value as Json;
    delete object[PLACEHOLDER];
    for (const child of Object.values(object)) dropPlaceholders(child);
  }
}

export interface PatchedResult {
  data: Json | null;
  errors: { message: string; path: string[]; extensions: Record<string, unknown> }[];
}

/**
 * Puts the removed fields back into the response: values the router
 * computed, or null with an error at the field's path (null bubbling to the
 * nearest nullable parent, as GraphQL execution would).
 */
export function patchResult(
  data: Json | null | undefined,
  removals: readonly Removal[],
  valueTypename = 'RateLimit',
): PatchedResult {
  // A null `data` stays null: a non-null root field already failed.
  let result: Json | null = data ?? null;
  if (removals.length > 0) dropPlaceholders(result);
  const errors: PatchedResult['errors'] = [];
  for (const removal of removals) {
    if (removal.value) {
      if (result) setAt(result, removal.path, () => project(removal.value!, removal.selection, valueTypename));
      continue;
    }
    errors.push({
      message: removal.error!.message,
      path: removal.path,
      extensions: { code: removal.error!.code, ...removal.error!.extensions },
    });
    if (!result) continue;
    if (removal.nullDepth === 0) result = null;
    else setAt(result, removal.path.slice(0, removal.nullDepth), () => null);
  }
  return { data: result, errors };
}
