import {
  Kind,
  getNamedType,
  isInterfaceType,
  isObjectType,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLInterfaceType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';

export interface FieldVisit<S> {
  node: FieldNode;
  field: GraphQLField<unknown, unknown>;
  parent: GraphQLObjectType | GraphQLInterfaceType;
  /** What the visit of the enclosing field handed down. */
  state: S;
}

/**
 * Walks an operation's fields as execution sees them: inline fragments and
 * fragment spreads expanded under their type conditions (a fragment already
 * on the current path ends the walk there, so a cycle cannot loop),
 * introspection fields skipped. `visit` returns the state for the field's
 * own selections.
 */
export function walkFields<S>(
  schema: GraphQLSchema,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  selectionSet: SelectionSetNode,
  parent: GraphQLNamedType,
  state: S,
  visit: (visit: FieldVisit<S>) => S,
): void {
  const active = new Set<string>();
  const walk = (set: SelectionSetNode, type: GraphQLNamedType, inherited: S) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
        if (condition) walk(selection.selectionSet, condition, inherited);
        continue;
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        const condition = fragment && schema.getType(fragment.typeCondition.name.value);
        if (!fragment || !condition || active.has(fragment.name.value)) continue;
        active.add(fragment.name.value);
        walk(fragment.selectionSet, condition, inherited);
        active.delete(fragment.name.value);
        continue;
      }
      if (selection.name.value.startsWith('__') || !(isObjectType(type) || isInterfaceType(type))) continue;
      const field = type.getFields()[selection.name.value];
      if (!field) continue;
      const next = visit({ node: selection, field, parent: type, state: inherited });
      if (selection.selectionSet) walk(selection.selectionSet, getNamedType(field.type), next);
    }
  };
  walk(selectionSet, parent, state);
}

/** The fragment definitions of a document, by name. */
export function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  return fragments;
}
