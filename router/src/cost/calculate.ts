import {
  Kind,
  getNamedType,
  getOperationAST,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  valueFromASTUntyped,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLAbstractType,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { collectFields } from 'graphql/execution/collectFields.js';
import { ErrorCode, codedError } from '@memegraph/service-kit';
import { conditionsKey, conditionsOf } from '../operation/walk';
import type { ListSize, Policy, SchemaPolicy } from '../policy/schemaPolicy';

/**
 * Static cost after the IBM GraphQL Cost Directive spec, as Apollo's demand
 * control applies it:
 *
 * - A field's weight is its `@cost`, else (root mutation fields) 10, else
 *   its type's `@cost`, else 1 for objects, interfaces and unions and 0 for
 *   scalars and enums. The query root itself costs nothing.
 * - A field costs `size × (weight + cost of its selections)`, where size is 1
 *   for a field that is not a list. A list's size comes from `@listSize`: the
 *   largest slicing argument given (literal or variable, else the argument's
 *   default), else `assumedSize`, else `defaultListSize`. With `sizedFields`
 *   that size also goes to the named child fields (the `edges` of a Relay
 *   connection), so `memes(first: 10) { edges { node { id } } }` is
 *   1 + 10 × (1 + 1) = 21.
 * - Like a response, a selection set is costed once per response name: the
 *   same field selected twice (directly, through fragments) is merged, as
 *   execution merges it. Skipped fields and introspection fields cost 0.
 * - On an interface or union the estimate is the most any possible type makes
 *   of the selection set.
 *
 * Choices where the spec leaves room:
 * - The 10 of a mutation is the weight of each root mutation field (replaced
 *   by its `@cost`), not a fixed charge per operation as Apollo's router adds.
 * - `requireOneSlicingArgument` is not enforced here; a field given no usable
 *   slicing value falls back to `assumedSize`, then `defaultListSize`. An
 *   explicit `null` slicing argument counts as absent (its default applies).
 * - A list of lists gets the `@listSize` size on the outer list and
 *   `defaultListSize` for each inner one.
 * - `@cost` on arguments is not costed: the policy does not read it and the
 *   schema puts none there.
 * - Actual cost: a field that is null or absent in `data` costs 0, whatever
 *   its weight: nothing was returned for it (and a null mutation result means
 *   the mutation failed). Null list items cost 0 likewise.
 */

export interface CostOptions {
  /** List size when a list field has no @listSize and no slicing argument. */
  defaultListSize: number;
}

export interface CostResult {
  /** Points. */
  cost: number;
  /** Objects the operation returns (estimated: at most; actual: counted). */
  nodeCount: number;
}

export interface CostInput {
  /** The API schema, as clients see it. */
  schema: GraphQLSchema;
  policy: SchemaPolicy;
  /** A document that passed validation against `schema`. */
  document: DocumentNode;
  operationName?: string | null;
  /** Coerced variable values, defaults applied (`coerceVariables`), as execution uses them. */
  variables?: Record<string, unknown>;
}

/** The most the operation can cost, with list sizes from `@listSize` and the options. */
export function estimateCost(input: CostInput, options: CostOptions): CostResult {
  const costing = new Costing(input, options);
  return costing.estimateFields(costing.rootType, [costing.operation.selectionSet], undefined);
}

/** What the operation did cost, with list sizes counted in the response's `data`. */
export function actualCost(input: CostInput & { data: unknown }, options: CostOptions): CostResult {
  const costing = costingFor(input, options);
  if (!isRecord(input.data)) return ZERO;
  const total = { cost: 0, nodeCount: 0 };
  costing.actualRoot(input.data, total);
  return total;
}

/** Costings kept per document: what one works out (fields collected, weights) holds for every answer to it. */
const costings = new WeakMap<
  DocumentNode,
  {
    schema: GraphQLSchema;
    policy: SchemaPolicy;
    defaultListSize: number;
    conditions: FieldNode['directives'];
    byKey: Map<string, Costing>;
  }
>();
/** Costings kept per document, at most, for as many operation names and `@skip`/`@include` outcomes. */
const MAX_COSTINGS_PER_DOCUMENT = 32;

/**
 * The costing of the operation for these variables: kept per document,
 * schema, policy, operation and `@skip`/`@include` outcome (the only way
 * variables change what an answer is read against), else made anew.
 */
function costingFor(input: CostInput, options: CostOptions): Costing {
  let kept = costings.get(input.document);
  if (
    !kept ||
    kept.schema !== input.schema ||
    kept.policy !== input.policy ||
    kept.defaultListSize !== options.defaultListSize
  ) {
    kept = {
      schema: input.schema,
      policy: input.policy,
      defaultListSize: options.defaultListSize,
      conditions: conditionsOf(input.document),
      byKey: new Map(),
    };
    costings.set(input.document, kept);
  }
  const conditions = conditionsKey(kept.conditions, input.variables ?? {});
  // A condition that cannot be decided: costed each time, so collecting refuses it as before.
  if (conditions.includes('?')) return new Costing(input, options);
  const key = `${input.operationName ?? ''}\0${conditions}`;
  let costing = kept.byKey.get(key);
  if (!costing) {
    costing = new Costing(input, options);
    if (kept.byKey.size >= MAX_COSTINGS_PER_DOCUMENT) kept.byKey.clear();
    kept.byKey.set(key, costing);
  }
  return costing;
}

const ZERO: CostResult = Object.freeze({ cost: 0, nodeCount: 0 });
const MUTATION_WEIGHT = 10;
const DEFAULT_OBJECT_WEIGHT = 1;
const DEFAULT_LEAF_WEIGHT = 0;

/** A field of an object's selection, as the actual cost reads it; its value's plan is worked out when first needed. */
interface FieldPlan {
  responseName: string;
  parent: GraphQLObjectType;
  nodes: FieldNode[];
  value: ValuePlan | undefined;
}

/** How a value of a field is costed, its type unwrapped once. */
type ValuePlan =
  | { kind: 'free' }
  | { kind: 'leaf'; cost: number }
  | { kind: 'list'; of: ValuePlan }
  | {
      kind: 'object';
      type: GraphQLObjectType;
      selectionSets: readonly SelectionSetNode[];
      weight: number;
      fields: FieldPlan[] | undefined;
    }
  | AbstractPlan;

/** An interface or union: which type an object is, and so what its fields cost, is read from the object. */
interface AbstractPlan {
  kind: 'abstract';
  type: GraphQLAbstractType;
  selectionSets: readonly SelectionSetNode[];
  fieldWeight: number | undefined;
}

const FREE: ValuePlan = { kind: 'free' };

/** The size `@listSize` gives to child fields of a connection-like type. */
interface SizedFields {
  names: readonly string[];
  size: number;
}

/**
 * State of costing one operation. An estimate's lives for one call; one
 * for actual costs is kept per document (see costingFor), and nothing it
 * keeps depends on one request's variables but their `@skip`/`@include`
 * outcome.
 */
class Costing {
  readonly operation: OperationDefinitionNode;
  readonly rootType: GraphQLObjectType;
  private readonly schema: GraphQLSchema;
  private readonly policy: SchemaPolicy;
  private readonly variables: Record<string, unknown>;
  private readonly variableDefaults = new Map<string, ValueNode>();
  private readonly fragments = new Map<string, FragmentDefinitionNode>();
  private readonly fragmentMap: Record<string, FragmentDefinitionNode> = Object.create(null);
  private readonly defaultListSize: number;
  // Fragments reused in many places make the expanded operation far larger
  // than its document; these caches keep the work proportional to the document.
  private readonly selectionSetIds = new Map<SelectionSetNode, number>();
  private readonly collected = new Map<string, Map<string, FieldNode[]>>();
  private readonly estimates = new Map<string, CostResult>();

  constructor(input: CostInput, options: CostOptions) {
    this.schema = input.schema;
    this.policy = input.policy;
    this.variables = input.variables ?? {};
    this.defaultListSize = toSize(options.defaultListSize) ?? 0;
    for (const definition of input.document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) {
        this.fragments.set(definition.name.value, definition);
        this.fragmentMap[definition.name.value] = definition;
      }
    }
    this.operation = selectOperation(input.document, input.operationName);
    this.rootType = rootTypeOf(this.schema, this.operation);
    for (const definition of this.operation.variableDefinitions ?? []) {
      if (definition.defaultValue) this.variableDefaults.set(definition.variable.name.value, definition.defaultValue);
    }
    assertNoFragmentCycles(this.fragments);
  }

  // --- Estimate -----------------------------------------------------------

  /** The fields an object of `type` gets from these selection sets. */
  estimateFields(
    type: GraphQLObjectType,
    selectionSets: readonly SelectionSetNode[],
    sized: SizedFields | undefined,
  ): CostResult {
    const key = `${this.collectKey(type, selectionSets)}|${sized ? `${sized.names.join(',')}=${sized.size}` : ''}`;
    const cached = this.estimates.get(key);
    if (cached) return cached;
    let total = ZERO;
    for (const fieldNodes of this.collect(type, selectionSets).values()) {
      const name = fieldNodes[0]!.name.value;
      const upstreamSize = sized?.names.includes(name) ? sized.size : undefined;
      total = add(total, this.estimateField(type, fieldNodes, upstreamSize));
    }
    this.estimates.set(key, total);
    return total;
  }

  private estimateField(
    parent: GraphQLObjectType,
    fieldNodes: readonly FieldNode[],
    upstreamSize: number | undefined,
  ): CostResult {
    const node = fieldNodes[0]!;
    if (isIntrospection(node)) return ZERO;
    const definition = this.fieldDefinition(parent, node);
    const policy = this.fieldPolicy(parent, node.name.value);
    const expectedSize = policy?.listSize ? this.expectedSize(policy.listSize, node, definition) : undefined;
    const sizedNames = policy?.listSize?.sizedFields;
    const sized =
      sizedNames?.length && expectedSize !== undefined ? { names: sizedNames, size: expectedSize } : undefined;

    const named = getNamedType(definition.type);
    const weight = this.fieldWeight(parent, policy);
    const element = isLeafType(named)
      ? { cost: weight ?? this.typeWeight(named) ?? DEFAULT_LEAF_WEIGHT, nodeCount: 0 }
      : this.estimateComposite(named, subSelections(fieldNodes), weight, sized);

    const depth = listDepth(definition.type);
    if (depth === 0) return element;
    let size = upstreamSize ?? expectedSize ?? this.defaultListSize;
    for (let inner = 1; inner < depth; inner++) size *= this.defaultListSize;
    return scale(element, size);
  }

  /** One object of a composite type: its weight plus its fields; for abstract types, the most expensive possibility. */
  private estimateComposite(
    type: GraphQLObjectType | GraphQLAbstractType,
    selectionSets: readonly SelectionSetNode[],
    fieldWeight: number | undefined,
    sized: SizedFields | undefined,
  ): CostResult {
    if (isObjectType(type))
      return this.estimateObject(type, selectionSets, fieldWeight ?? this.typeWeight(type), sized);
    let most: CostResult | undefined;
    for (const possible of this.schema.getPossibleTypes(type)) {
      const weight = fieldWeight ?? this.typeWeight(possible) ?? this.typeWeight(type);
      const estimate = this.estimateObject(possible, selectionSets, weight, sized);
      most = most
        ? { cost: Math.max(most.cost, estimate.cost), nodeCount: Math.max(most.nodeCount, estimate.nodeCount) }
        : estimate;
    }
    // No possible type: the field can only be null, but it still asked for an object.
    return most ?? { cost: fieldWeight ?? this.typeWeight(type) ?? DEFAULT_OBJECT_WEIGHT, nodeCount: 1 };
  }

  private estimateObject(
    type: GraphQLObjectType,
    selectionSets: readonly SelectionSetNode[],
    weight: number | undefined,
    sized: SizedFields | undefined,
  ): CostResult {
    const fields = this.estimateFields(type, selectionSets, sized);
    return { cost: (weight ?? DEFAULT_OBJECT_WEIGHT) + fields.cost, nodeCount: 1 + fields.nodeCount };
  }

  /** The size `@listSize` gives: the largest slicing argument, else `assumedSize`. */
  private expectedSize(
    listSize: ListSize,
    node: FieldNode,
    definition: GraphQLField<unknown, unknown>,
  ): number | undefined {
    let largest: number | undefined;
    for (const name of listSize.slicingArguments ?? []) {
      const size = toSize(this.argumentValue(node, definition, name));
      if (size !== undefined) largest = Math.max(largest ?? 0, size);
    }
    return largest ?? toSize(listSize.assumedSize);
  }

  /** An argument as the resolver would see it, except that `null` falls back to the default too. */
  private argumentValue(node: FieldNode, definition: GraphQLField<unknown, unknown>, name: string): unknown {
    const argument = node.arguments?.find((a) => a.name.value === name);
    let value: unknown;
    if (argument) {
      value =
        argument.value.kind === Kind.VARIABLE
          ? this.variableValue(argument.value.name.value)
          : valueFromASTUntyped(argument.value, this.variables);
    }
    if (value === undefined || value === null) value = definition.args.find((a) => a.name === name)?.defaultValue;
    return value;
  }

  // --- Actual -------------------------------------------------------------

  /**
   * Adds what `data` cost to `total`: the same sums as `actualFields`, read
   * through plans worked out once per costing (the fields an object gets,
   * their types and weights), so an answer's objects cost a property read
   * and an addition each.
   */
  actualRoot(data: Record<string, unknown>, total: CostResult): void {
    this.rootFields ??= this.fieldPlans(this.rootType, [this.operation.selectionSet]);
    this.addFields(this.rootFields, data, total);
  }

  private rootFields?: FieldPlan[];
  private readonly fieldPlanCache = new Map<string, FieldPlan[]>();

  private fieldPlans(type: GraphQLObjectType, selectionSets: readonly SelectionSetNode[]): FieldPlan[] {
    const key = this.collectKey(type, selectionSets);
    let plans = this.fieldPlanCache.get(key);
    if (!plans) {
      plans = [];
      for (const [responseName, nodes] of this.collect(type, selectionSets))
        plans.push({ responseName, parent: type, nodes, value: undefined });
      this.fieldPlanCache.set(key, plans);
    }
    return plans;
  }

  /** How a field's value is costed (introspection fields cost nothing). */
  private fieldValuePlan(field: FieldPlan): ValuePlan {
    const node = field.nodes[0]!;
    if (isIntrospection(node)) return FREE;
    const definition = this.fieldDefinition(field.parent, node);
    const weight = this.fieldWeight(field.parent, this.fieldPolicy(field.parent, node.name.value));
    return this.valuePlan(definition.type, subSelections(field.nodes), weight);
  }

  private valuePlan(
    type: GraphQLOutputType,
    selectionSets: readonly SelectionSetNode[],
    fieldWeight: number | undefined,
  ): ValuePlan {
    if (isNonNullType(type)) return this.valuePlan(type.ofType, selectionSets, fieldWeight);
    if (isListType(type)) return { kind: 'list', of: this.valuePlan(type.ofType, selectionSets, fieldWeight) };
    if (isLeafType(type)) return { kind: 'leaf', cost: fieldWeight ?? this.typeWeight(type) ?? DEFAULT_LEAF_WEIGHT };
    if (isObjectType(type)) {
      const weight = fieldWeight ?? this.typeWeight(type) ?? DEFAULT_OBJECT_WEIGHT;
      return { kind: 'object', type, selectionSets, weight, fields: undefined };
    }
    return { kind: 'abstract', type, selectionSets, fieldWeight };
  }

  private addFields(fields: FieldPlan[], data: Record<string, unknown>, total: CostResult): void {
    for (const field of fields) {
      const value = data[field.responseName];
      if (value === undefined || value === null) continue;
      this.addValue((field.value ??= this.fieldValuePlan(field)), value, total);
    }
  }

  private addValue(plan: ValuePlan, value: unknown, total: CostResult): void {
    if (value === undefined || value === null) return;
    switch (plan.kind) {
      case 'free':
        return;
      case 'leaf':
        total.cost += plan.cost;
        return;
      case 'list':
        if (!Array.isArray(value)) return;
        for (const item of value) this.addValue(plan.of, item, total);
        return;
      case 'object':
        if (!isRecord(value)) return;
        total.cost += plan.weight;
        total.nodeCount += 1;
        this.addFields((plan.fields ??= this.fieldPlans(plan.type, plan.selectionSets)), value, total);
        return;
      case 'abstract':
        if (isRecord(value)) this.addAbstract(plan, value, total);
    }
  }

  /**
   * An object of an interface or union: costed as its concrete type when
   * the selection asked for its `__typename`, else as the most expensive
   * possible type's reading of it (the client did not say which it is).
   */
  private addAbstract(plan: AbstractPlan, value: Record<string, unknown>, total: CostResult): void {
    const runtime = this.runtimeType(plan.type, value, plan.selectionSets);
    let most: CostResult | undefined;
    for (const possible of runtime ? [runtime] : this.schema.getPossibleTypes(plan.type)) {
      const weight = plan.fieldWeight ?? this.typeWeight(possible) ?? this.typeWeight(plan.type);
      const object = { cost: weight ?? DEFAULT_OBJECT_WEIGHT, nodeCount: 1 };
      this.addFields(this.fieldPlans(possible, plan.selectionSets), value, object);
      most = most
        ? { cost: Math.max(most.cost, object.cost), nodeCount: Math.max(most.nodeCount, object.nodeCount) }
        : object;
    }
    if (!most) return;
    total.cost += most.cost;
    total.nodeCount += most.nodeCount;
  }

  /** The concrete type of an abstract value, when the selection asked for its `__typename` (under any alias). */
  private runtimeType(
    type: GraphQLAbstractType,
    value: Record<string, unknown>,
    selectionSets: readonly SelectionSetNode[],
  ): GraphQLObjectType | undefined {
    for (const possible of this.schema.getPossibleTypes(type)) {
      for (const [responseName, fieldNodes] of this.collect(possible, selectionSets)) {
        if (fieldNodes[0]!.name.value === '__typename' && value[responseName] === possible.name) return possible;
      }
    }
    return undefined;
  }

  // --- Shared -------------------------------------------------------------

  private fieldDefinition(parent: GraphQLObjectType, node: FieldNode): GraphQLField<unknown, unknown> {
    const definition = parent.getFields()[node.name.value];
    if (!definition) throw invalid(`Cannot query field "${node.name.value}" on type "${parent.name}".`);
    return definition;
  }

  /** The field's policy, or the one it inherits from an interface that declares it. */
  private fieldPolicy(parent: GraphQLObjectType, fieldName: string): Policy | undefined {
    const own = this.policy.field(parent.name, fieldName);
    if (own) return own;
    for (const iface of parent.getInterfaces()) {
      const inherited = this.policy.field(iface.name, fieldName);
      if (inherited) return inherited;
    }
    return undefined;
  }

  /** The weight set on the field itself, if any; `undefined` leaves it to the type. */
  private fieldWeight(parent: GraphQLObjectType, policy: Policy | undefined): number | undefined {
    if (policy?.cost !== undefined) return policy.cost;
    return parent === this.schema.getMutationType() ? MUTATION_WEIGHT : undefined;
  }

  private typeWeight(type: GraphQLNamedType): number | undefined {
    return this.policy.type(type.name)?.cost;
  }

  /**
   * The fields, by response name, that an object of `type` gets from these
   * selection sets: graphql-js's own CollectFields, with @skip/@include.
   */
  private collect(type: GraphQLObjectType, selectionSets: readonly SelectionSetNode[]): Map<string, FieldNode[]> {
    const key = this.collectKey(type, selectionSets);
    const cached = this.collected.get(key);
    if (cached) return cached;
    const fields = new Map<string, FieldNode[]>();
    for (const selectionSet of selectionSets) {
      for (const [responseName, nodes] of collectFields(
        this.schema,
        this.fragmentMap,
        this.variables,
        type,
        selectionSet,
      )) {
        const existing = fields.get(responseName);
        if (existing) existing.push(...nodes);
        else fields.set(responseName, [...nodes]);
      }
    }
    this.collected.set(key, fields);
    return fields;
  }

  private collectKey(type: GraphQLObjectType, selectionSets: readonly SelectionSetNode[]): string {
    const ids = selectionSets.map((selectionSet) => {
      let id = this.selectionSetIds.get(selectionSet);
      if (id === undefined) {
        id = this.selectionSetIds.size;
        this.selectionSetIds.set(selectionSet, id);
      }
      return id;
    });
    return `${type.name}:${ids.join(',')}`;
  }

  /** A variable's value: as sent, else its default in the operation, else undefined (not provided). */
  private variableValue(name: string): unknown {
    if (Object.hasOwn(this.variables, name)) return this.variables[name];
    const defaultValue = this.variableDefaults.get(name);
    return defaultValue ? valueFromASTUntyped(defaultValue) : undefined;
  }
}

/** The operation to cost, picked as execution picks it (graphql-js getOperationAST). */
function selectOperation(document: DocumentNode, operationName: string | null | undefined): OperationDefinitionNode {
  const operation = getOperationAST(document, operationName);
  if (operation) return operation;
  if (operationName) throw invalid(`Unknown operation named "${operationName}".`);
  const count = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION).length;
  throw invalid(
    count === 0
      ? 'The document contains no operation.'
      : 'Must provide operation name if query contains multiple operations.',
  );
}

function rootTypeOf(schema: GraphQLSchema, operation: OperationDefinitionNode): GraphQLObjectType {
  const root = schema.getRootType(operation.operation);
  if (!root) throw invalid(`The schema has no ${operation.operation} type.`);
  return root;
}

/** Validation forbids fragment cycles; costing a document that slipped through must still end. */
function assertNoFragmentCycles(fragments: ReadonlyMap<string, FragmentDefinitionNode>): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: readonly string[]): void => {
    const seen = state.get(name);
    if (seen === 'done') return;
    if (seen === 'visiting')
      throw invalid(`Cannot spread fragment "${name}" within itself (${[...path, name].join(' → ')}).`);
    const fragment = fragments.get(name);
    if (!fragment) throw invalid(`Unknown fragment "${name}".`);
    state.set(name, 'visiting');
    for (const spread of spreadsIn(fragment.selectionSet)) visit(spread, [...path, name]);
    state.set(name, 'done');
  };
  for (const name of fragments.keys()) visit(name, []);
}

function spreadsIn(selectionSet: SelectionSetNode, into: string[] = []): string[] {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FRAGMENT_SPREAD) into.push(selection.name.value);
    else if (selection.selectionSet) spreadsIn(selection.selectionSet, into);
  }
  return into;
}

function invalid(message: string) {
  return codedError(ErrorCode.GRAPHQL_VALIDATION_FAILED, message);
}

function isIntrospection(node: FieldNode): boolean {
  // __typename, __schema and __type: answered by the router, free.
  return node.name.value.startsWith('__');
}

function subSelections(fieldNodes: readonly FieldNode[]): SelectionSetNode[] {
  const sets: SelectionSetNode[] = [];
  for (const node of fieldNodes) if (node.selectionSet) sets.push(node.selectionSet);
  return sets;
}

function listDepth(type: GraphQLOutputType): number {
  let depth = 0;
  let current: GraphQLOutputType = type;
  for (;;) {
    if (isNonNullType(current)) current = current.ofType;
    else if (isListType(current)) {
      depth++;
      current = current.ofType;
    } else return depth;
  }
}

/** A usable list size: a finite number, floored, never negative. */
function toSize(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? Math.max(0, Math.floor(value)) : undefined;
}

function add(a: CostResult, b: CostResult): CostResult {
  return { cost: a.cost + b.cost, nodeCount: a.nodeCount + b.nodeCount };
}

function scale(result: CostResult, size: number): CostResult {
  // 0 × Infinity would be NaN: an empty list costs nothing, however deep.
  return size === 0 ? ZERO : { cost: result.cost * size, nodeCount: result.nodeCount * size };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
