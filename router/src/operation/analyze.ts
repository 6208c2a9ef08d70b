import { getNamedType, isNonNullType, isObjectType, type FieldNode, type GraphQLObjectType } from 'graphql';
import type { Policy, SchemaPolicy } from '../policy/schemaPolicy';
import { rootFields, subfieldsOf, walkOperation, type OperationInput } from './walk';

/** A field of the operation the router has to decide about before planning. */
export interface GuardedField {
  /** Every node execution merges under this field's response key: removing the field removes them all. */
  nodes: readonly FieldNode[];
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
  /** For fields the router answers: the selected subfields, as [response key, field name]. */
  selection?: [string, string][];
}

export interface OperationAnalysis {
  /** Fields with authorization, rate-limit or router-resolved policy, in execution order. */
  guarded: GuardedField[];
  /** The root fields that execute, in order, introspection included (for a mutation: what it does). */
  rootFields: { responseKey: string; name: string }[];
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

/** A field's policy, or the one it inherits from an interface that declares it. */
export function fieldPolicy(policy: SchemaPolicy, parent: GraphQLObjectType, fieldName: string): Policy | undefined {
  const own = policy.field(parent.name, fieldName);
  if (own) return own;
  for (const iface of parent.getInterfaces()) {
    const inherited = policy.field(iface.name, fieldName);
    if (inherited) return inherited;
  }
  return undefined;
}

/**
 * Finds every field the operation executes that carries a policy: who may
 * see it, how often it may be called, or whether the router answers it
 * itself. Depends on the document and its `@skip`/`@include` conditions only.
 */
export function analyzeOperation(input: OperationInput, policy: SchemaPolicy): OperationAnalysis {
  const guarded: GuardedField[] = [];
  // Under an abstract type the same field is visited once per possible type: kept once per path.
  const seen = new Set<string>();
  walkOperation(input, { path: [] as string[], nullDepth: 0 }, ({ responseKey, nodes, field, parent, state }) => {
    const path = [...state.path, responseKey];
    // Where a null for this field lands: here when nullable, else where its parent's would.
    // A child's null lands where this field's would: inside a list that nulls the whole
    // list rather than one item, coarser but never leakier.
    const nullDepth = isNonNullType(field.type) ? state.nullDepth : path.length;
    const named = getNamedType(field.type);
    const merged = mergePolicy(fieldPolicy(policy, parent, field.name), policy.type(named.name));
    const routerField = ROUTER_FIELDS.has(`${parent.name}.${field.name}`);
    const seenKey = `${path.join('.')}\0${parent.name}.${field.name}`;
    if ((merged || routerField) && !seen.has(seenKey)) {
      seen.add(seenKey);
      guarded.push({
        nodes,
        path,
        typeName: parent.name,
        fieldName: field.name,
        policy: merged ?? { authenticated: false },
        nullDepth,
        // The router puts its own value here: what the client selected of it, as execution would collect it.
        ...(routerField && isObjectType(named)
          ? {
              selection: [...subfieldsOf(input, named, nodes)].map(([key, n]): [string, string] => [
                key,
                n[0]!.name.value,
              ]),
            }
          : {}),
      });
    }
    return { path, nullDepth };
  });
  return { guarded, rootFields: rootFields(input) };
}
