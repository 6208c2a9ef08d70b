import {
  Kind,
  getNamedType,
  isCompositeType,
  isObjectType,
  isInterfaceType,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
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
export function cachePolicyOf(
  schema: GraphQLSchema,
  policy: SchemaPolicy,
  operation: OperationDefinitionNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
): CachePolicy {
  if (operation.operation !== 'query') return { maxAge: 0, scope: 'PUBLIC' };
  let maxAge = Number.POSITIVE_INFINITY;
  let scope: CachePolicy['scope'] = 'PUBLIC';

  const walk = (set: SelectionSetNode, parent: GraphQLNamedType, parentMaxAge: number, active: Set<string>, root: boolean) => {
    for (const selection of set.selections) {
      if (maxAge === 0 && scope === 'PRIVATE') return;
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        if (type) walk(selection.selectionSet, type, parentMaxAge, active, root);
        continue;
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        const type = fragment && schema.getType(fragment.typeCondition.name.value);
        if (!fragment || !type || active.has(fragment.name.value)) continue;
        active.add(fragment.name.value);
        walk(fragment.selectionSet, type, parentMaxAge, active, root);
        active.delete(fragment.name.value);
        continue;
      }
      if (selection.name.value.startsWith('__')) continue;
      if (!(isObjectType(parent) || isInterfaceType(parent))) continue;
      const field = parent.getFields()[selection.name.value];
      if (!field) continue;
      const named = getNamedType(field.type);
      const fieldHint = policy.field(parent.name, field.name)?.cacheControl;
      const typeHint = isCompositeType(named) ? policy.type(named.name)?.cacheControl : undefined;
      if (fieldHint?.scope === 'PRIVATE' || typeHint?.scope === 'PRIVATE') scope = 'PRIVATE';
      let fieldMaxAge: number | undefined;
      if (fieldHint?.maxAge !== undefined) fieldMaxAge = fieldHint.maxAge;
      else if (root || isCompositeType(named)) {
        if (fieldHint?.inheritMaxAge || (!fieldHint && typeHint?.inheritMaxAge)) fieldMaxAge = parentMaxAge;
        else fieldMaxAge = typeHint?.maxAge ?? (fieldHint && !root ? parentMaxAge : 0);
      }
      if (fieldMaxAge !== undefined) maxAge = Math.min(maxAge, fieldMaxAge);
      if (selection.selectionSet) walk(selection.selectionSet, named, fieldMaxAge ?? parentMaxAge, active, false);
    }
  };
  const root = schema.getQueryType();
  if (root) walk(operation.selectionSet, root, Number.POSITIVE_INFINITY, new Set(), true);
  return { maxAge: Number.isFinite(maxAge) ? maxAge : 0, scope };
}
