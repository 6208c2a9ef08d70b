import { getNamedType, isCompositeType } from 'graphql';
import { fieldPolicy } from '../operation/analyze';
import { walkOperation, type OperationInput } from '../operation/walk';
import type { SchemaPolicy } from '../policy/schemaPolicy';

export interface CachePolicy {
  /** Seconds a response may be cached; 0: not at all. */
  maxAge: number;
  scope: 'PUBLIC' | 'PRIVATE';
}

/**
 * An operation's cache policy from the schema's `@cacheControl` hints, as
 * Apollo Server computes it: root fields and fields returning objects take
 * their own hint, else their type's, else 0 (or the parent's with
 * `inheritMaxAge`); leaf fields only restrict when hinted. The response's
 * maxAge is the smallest; any PRIVATE hint makes it private.
 */
export function cachePolicyOf(input: OperationInput, policy: SchemaPolicy): CachePolicy {
  if (input.operation.operation !== 'query') return { maxAge: 0, scope: 'PUBLIC' };
  let maxAge = Number.POSITIVE_INFINITY;
  let scope: CachePolicy['scope'] = 'PUBLIC';
  walkOperation(input, { parentMaxAge: Number.POSITIVE_INFINITY, root: true }, ({ field, parent, state }) => {
    const named = getNamedType(field.type);
    const fieldHint = fieldPolicy(policy, parent, field.name)?.cacheControl;
    const typeHint = isCompositeType(named) ? policy.type(named.name)?.cacheControl : undefined;
    if (fieldHint?.scope === 'PRIVATE' || typeHint?.scope === 'PRIVATE') scope = 'PRIVATE';
    let fieldMaxAge: number | undefined;
    if (fieldHint?.maxAge !== undefined) fieldMaxAge = fieldHint.maxAge;
    else if (state.root || isCompositeType(named)) {
      if (fieldHint?.inheritMaxAge || (!fieldHint && typeHint?.inheritMaxAge)) fieldMaxAge = state.parentMaxAge;
      else fieldMaxAge = typeHint?.maxAge ?? (fieldHint && !state.root ? state.parentMaxAge : 0);
    }
    if (fieldMaxAge !== undefined) maxAge = Math.min(maxAge, fieldMaxAge);
    return { parentMaxAge: fieldMaxAge ?? state.parentMaxAge, root: false };
  });
  return { maxAge: Number.isFinite(maxAge) ? maxAge : 0, scope };
}
