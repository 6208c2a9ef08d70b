import {
  Kind,
  getNamedType,
  isNonNullType,
  isObjectType,
  isInterfaceType,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { Policy, SchemaPolicy } from '../policy/schemaPolicy';

/** A field of the operation the router has to decide about before planning. */
export interface GuardedField {
  node: FieldNode;
  /** Response keys from the root to this field (aliases applied, no list indices). */
  path: string[];
  typeName: string;
  fieldName: string;
  /** The field's own policy merged with its return type's. */
  policy: Policy;
  /**
   * How many leading path segments to keep when this field must be null:
   * `path.length` when the field itself is nullable, fewer when null has to
   * bubble up through non-null fields (0: the whole `data` is null).
   */
  nullDepth: number;
}

export interface OperationAnalysis {
  operation: OperationDefinitionNode;
  /** Fields with authorization, rate-limit or router-resolved policy, in document order. */
  guarded: GuardedField[];
}

/** Fields the router answers itself instead of a subgraph. */
export const ROUTER_FIELDS = new Set(['Query.rateLimit']);

function mergePolicy(field?: Policy, type?: Policy): Policy | undefined {
  if (!field) return type && (type.authenticated || type.requiresScopes) ? type : undefined;
  if (!type) return field;
  return {
    ...field,
    authenticated: field.authenticated || type.authenticated,
    requiresScopes: [...(field.requiresScopes ?? []), ...(type.requiresScopes ?? [])].length
      ? // Both must hold: the field's alternatives and the type's alternatives.
        combineScopes(field.requiresScopes, type.requiresScopes)
      : undefined,
  };
}

function combineScopes(a?: string[][], b?: string[][]): string[][] {
  if (!a?.length) return b ?? [];
  if (!b?.length) return a;
  return a.flatMap((x) => b.map((y) => [...new Set([...x, ...y])]));
}

/**
 * Finds, once per document, every field carrying a policy: who may see it,
 * how often it may be called, or whether the router answers it itself.
 */
export function analyzeOperation(
  schema: GraphQLSchema,
  policy: SchemaPolicy,
  document: DocumentNode,
  operationName: string | null | undefined,
): OperationAnalysis {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations.length === 1 ? operations[0] : undefined;
  if (!operation) throw new Error('operation not found in a validated document');
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const rootType = operation.operation === 'mutation' ? schema.getMutationType() : operation.operation === 'subscription' ? schema.getSubscriptionType() : schema.getQueryType();
  const guarded: GuardedField[] = [];

  const walk = (set: SelectionSetNode, parent: GraphQLNamedType, path: string[], nullDepth: number, active: Set<string>) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        if (type) walk(selection.selectionSet, type, path, nullDepth, active);
        continue;
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        if (!fragment || active.has(fragment.name.value)) continue;
        const type = schema.getType(fragment.typeCondition.name.value);
        if (!type) continue;
        active.add(fragment.name.value);
        walk(fragment.selectionSet, type, path, nullDepth, active);
        active.delete(fragment.name.value);
        continue;
      }
      const name = selection.name.value;
      if (name.startsWith('__') || !(isObjectType(parent) || isInterfaceType(parent))) continue;
      const field: GraphQLField<unknown, unknown> | undefined = parent.getFields()[name];
      if (!field) continue;
      const key = selection.alias?.value ?? name;
      const fieldPath = [...path, key];
      // Where a null for this field lands: here when nullable, else where its parent's would.
      const fieldNullDepth = isNonNullType(field.type) ? nullDepth : fieldPath.length;
      const named = getNamedType(field.type);
      const merged = mergePolicy(policy.field(parent.name, name), policy.type(named.name));
      if (merged || ROUTER_FIELDS.has(`${parent.name}.${name}`)) {
        guarded.push({
          node: selection,
          path: fieldPath,
          typeName: parent.name,
          fieldName: name,
          policy: merged ?? { authenticated: false },
          nullDepth: fieldNullDepth,
        });
      }
      // A child's null lands where this field's would. Inside a list that
      // nulls the whole list rather than one item: coarser, never leakier.
      if (selection.selectionSet) walk(selection.selectionSet, named, fieldPath, fieldNullDepth, active);
    }
  };
  if (rootType) walk(operation.selectionSet, rootType, [], 0, new Set());
  return { operation, guarded };
}
