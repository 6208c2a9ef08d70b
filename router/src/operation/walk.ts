import {
  GraphQLError,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  getDirectiveValues,
  getNamedType,
  getVariableValues,
  isAbstractType,
  isObjectType,
  visit,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { collectFields, collectSubfields as collectSubfieldsOf } from 'graphql/execution/collectFields.js';
import { ErrorCode } from '@memegraph/service-kit';

/**
 * The one way the router reads an operation: graphql-js's own field
 * collection (`collectFields`, as execution runs it), so every check sees
 * the operation as it will execute — named and inline fragments expanded
 * under their type conditions, aliases as response keys, `@skip`/`@include`
 * decided with the request's variables, repeated selections of one
 * response key merged. Authorization, cost, cache policy, field rate limits,
 * purge rules and entitlement changes all read it.
 */

export interface FieldVisit<S> {
  /** The response key: the alias, else the field name. */
  responseKey: string;
  /** Every node execution merges under this response key (repeats, fragments). */
  nodes: readonly FieldNode[];
  field: GraphQLField<unknown, unknown>;
  /** The object type the field is selected on (each possible type, under an abstract type). */
  parent: GraphQLObjectType;
  /** What the visit of the enclosing field handed down. */
  state: S;
}

/** An operation, its fragments and the variables that decide `@skip`/`@include`. */
export interface OperationInput {
  schema: GraphQLSchema;
  operation: OperationDefinitionNode;
  fragments: Readonly<Record<string, FragmentDefinitionNode>>;
  /** Coerced variable values (`coerceVariables`). */
  variables: Readonly<Record<string, unknown>>;
}

/**
 * Walks the fields an operation executes, depth first, in execution order.
 * Introspection fields are not visited. `visit` returns the state for the
 * field's own selections. A `@skip`/`@include` whose `if` is null throws a
 * coded BAD_USER_INPUT error (`conditionsKey` finds it first).
 */
export function walkOperation<S>(input: OperationInput, state: S, visitField: (visit: FieldVisit<S>) => S): void {
  const { schema, operation, fragments, variables } = input;
  const root = schema.getRootType(operation.operation);
  if (!root) return;
  const collectSubfields = (type: GraphQLObjectType, nodes: readonly FieldNode[]) => subfieldsOf(input, type, nodes);
  const walk = (parent: GraphQLObjectType, fields: Map<string, readonly FieldNode[]>, inherited: S) => {
    for (const [responseKey, nodes] of fields) {
      const name = nodes[0]!.name.value;
      if (name.startsWith('__')) continue;
      const field = parent.getFields()[name];
      if (!field) continue;
      const next = visitField({ responseKey, nodes, field, parent, state: inherited });
      const named = getNamedType(field.type);
      if (isObjectType(named)) walk(named, collectSubfields(named, nodes), next);
      else if (isAbstractType(named)) {
        for (const possible of schema.getPossibleTypes(named)) walk(possible, collectSubfields(possible, nodes), next);
      }
    }
  };
  walk(
    root,
    coded(() => collectFields(schema, fragments, variables, root, operation.selectionSet)),
    state,
  );
}

/** The subfields an object of `type` gets from these nodes, by response key (graphql-js's collection, coded errors). */
export function subfieldsOf(
  input: OperationInput,
  type: GraphQLObjectType,
  nodes: readonly FieldNode[],
): Map<string, readonly FieldNode[]> {
  return coded(() => collectSubfieldsOf(input.schema, input.fragments, input.variables, type, nodes));
}

/** graphql-js's collection throws an uncoded error for a condition execution refuses (a null `if`): coded here. */
function coded<T>(collect: () => T): T {
  try {
    return collect();
  } catch (error) {
    if (error instanceof GraphQLError && error.extensions?.code === undefined) throw badInput(error.message);
    throw error;
  }
}

/** The root fields an operation executes, by response key, introspection included (what a mutation does, in order). */
export function rootFields(input: OperationInput): { responseKey: string; name: string }[] {
  const root = input.schema.getRootType(input.operation.operation);
  if (!root) return [];
  return [
    ...coded(() => collectFields(input.schema, input.fragments, input.variables, root, input.operation.selectionSet)),
  ].map(([responseKey, nodes]) => ({
    responseKey,
    name: nodes[0]!.name.value,
  }));
}

/**
 * The request's variables as execution sees them (defaults applied, values
 * coerced), or coded BAD_USER_INPUT errors for values the operation refuses.
 */
export function coerceVariables(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  inputs: Readonly<Record<string, unknown>> | undefined,
): { variables: Record<string, unknown> } | { errors: GraphQLError[] } {
  const result = getVariableValues(schema, operation.variableDefinitions ?? [], inputs ?? {}, { maxErrors: 10 });
  if (result.errors) return { errors: result.errors.map((error) => badInput(error.message)) };
  return { variables: result.coerced };
}

/** The fragment definitions of a document, by name. */
export function fragmentsOf(document: DocumentNode): Record<string, FragmentDefinitionNode> {
  const fragments: Record<string, FragmentDefinitionNode> = Object.create(null);
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
  return fragments;
}

/** Whether a fragment on `condition` (none: the enclosing type) applies to an object of `type`, as execution decides it. */
export function fragmentApplies(
  schema: GraphQLSchema,
  condition: string | undefined,
  type: GraphQLObjectType,
): boolean {
  if (!condition || condition === type.name) return true;
  const named = schema.getType(condition);
  return !!named && isAbstractType(named) && schema.isSubType(named, type);
}

/** The `@skip`/`@include` directives of a document: what makes its executed shape depend on variables. */
export function conditionsOf(document: DocumentNode): FieldNode['directives'] {
  const found: NonNullable<FieldNode['directives']>[number][] = [];
  visit(document, {
    Directive: (node) => {
      if (node.name.value === 'skip' || node.name.value === 'include') found.push(node);
    },
  });
  return found;
}

/**
 * What the executed shape depends on: the value of every `@skip`/`@include`
 * condition of the document, as a short key ('' when it has none). A
 * condition that cannot be decided with these variables (a null `if`, or a
 * variable of another operation in the document) is keyed as such: the walk
 * refuses it, coded, only if the operation actually reaches it.
 */
export function conditionsKey(
  conditions: FieldNode['directives'],
  variables: Readonly<Record<string, unknown>>,
): string {
  if (!conditions?.length) return '';
  let key = '';
  for (const directive of conditions) {
    const definition = directive.name.value === 'skip' ? GraphQLSkipDirective : GraphQLIncludeDirective;
    try {
      key += getDirectiveValues(definition, { directives: [directive] }, variables)?.if ? '1' : '0';
    } catch {
      key += '?';
    }
  }
  return key;
}

function badInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.BAD_USER_INPUT } });
}
