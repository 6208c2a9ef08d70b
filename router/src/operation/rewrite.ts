import { Kind, visit, type DocumentNode, type FieldNode, type SelectionSetNode } from 'graphql';
import { RESERVED_PREFIX } from './reservedNames';

/** The response key of the `__typename` that stands in for a removed selection; patchResult takes it out again. */
export const PLACEHOLDER = `${RESERVED_PREFIX}Removed`;

const TYPENAME: FieldNode = {
  kind: Kind.FIELD,
  alias: { kind: Kind.NAME, value: PLACEHOLDER },
  name: { kind: Kind.NAME, value: '__typename' },
};

/**
 * The document without the given field nodes. A selection set left empty
 * gets an aliased `__typename` (so the document stays valid and plannable), and
 * variables no longer used are dropped.
 */
export function withoutFields(document: DocumentNode, remove: ReadonlySet<FieldNode>): DocumentNode {
  const pruned = visit(document, {
    Field: {
      enter: (node) => (remove.has(node) ? null : undefined),
    },
    SelectionSet: {
      leave: (node): SelectionSetNode | undefined =>
        node.selections.length === 0 ? { ...node, selections: [TYPENAME] } : undefined,
    },
  });
  const used = new Set<string>();
  visit(pruned, {
    VariableDefinition: () => false,
    Variable: (node) => {
      used.add(node.name.value);
    },
  });
  return visit(pruned, {
    VariableDefinition: (node) => (used.has(node.variable.name.value) ? undefined : null),
  });
}
