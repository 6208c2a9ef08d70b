import {
  Kind,
  getNamedType,
  isNonNullType,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import type { Policy, SchemaPolicy } from '../policy/schemaPolicy';
import { fragmentsOf, walkFields } from './walk';

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
  fragments: ReadonlyMap<string, FragmentDefinitionNode>;
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
  const fragments = fragmentsOf(document);
  const rootType = operation.operation === 'mutation' ? schema.getMutationType() : operation.operation === 'subscription' ? schema.getSubscriptionType() : schema.getQueryType();
  const guarded: GuardedField[] = [];
  if (rootType) {
    walkFields(schema, fragments, operation.selectionSet, rootType, { path: [] as string[], nullDepth: 0 }, ({ node, field, parent, state }) => {
      const path = [...state.path, node.alias?.value ?? field.name];
      // Where a null for this field lands: here when nullable, else where its parent's would.
      // A child's null lands where this field's would: inside a list that nulls the whole
      // list rather than one item, coarser but never leakier.
      const nullDepth = isNonNullType(field.type) ? state.nullDepth : path.length;
      const merged = mergePolicy(policy.field(parent.name, field.name), policy.type(getNamedType(field.type).name));
      if (merged || ROUTER_FIELDS.has(`${parent.name}.${field.name}`)) {
        guarded.push({ node, path, typeName: parent.name, fieldName: field.name, policy: merged ?? { authenticated: false }, nullDepth });
      }
      return { path, nullDepth };
    });
  }
  return { operation, fragments, guarded };
}
