import {
  GraphQLError,
  Kind,
  getOperationAST,
  isObjectType,
  parse,
  print,
  specifiedRules,
  validate,
  type DocumentNode,
  type FieldNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { Supergraph } from '@apollo/federation-internals';
import { ErrorCode, HttpError, type TierLimits, type Viewer } from '@memegraph/service-kit';
import { estimateCost } from '../cost/calculate';
import type { OperationLimits } from '../limits/operationLimits';
import { analyzeOperation } from '../operation/analyze';
import { RESERVED_PREFIX, ReservedNamesRule } from '../operation/reservedNames';
import { coerceVariables, fragmentsOf, subfieldsOf } from '../operation/walk';
import { SchemaPolicy, type Policy } from '../policy/schemaPolicy';

/** The subscription fields the router serves, each the changes of the `generation` query's answer. */
export const SUBSCRIPTION_FIELDS = ['generationUpdated', 'myGenerations'] as const;
export type SubscriptionField = (typeof SUBSCRIPTION_FIELDS)[number];

/** The variable that names the generation in the query a `myGenerations` event runs. */
const EVENT_ID_VARIABLE = `${RESERVED_PREFIX}GenerationId`;

/** What a client sends to subscribe: the GraphQL over HTTP request parameters. */
export interface SubscriptionRequest {
  query?: unknown;
  variables?: unknown;
  operationName?: unknown;
  /** `persistedQuery.sha256Hash`: a trusted document's manifest id. */
  extensions?: unknown;
}

/** A subscription the viewer may open: the query each of its events runs, as that viewer. */
export interface PreparedSubscription {
  field: SubscriptionField;
  /** The subscription field's response key, which the query's `generation` field is aliased to. */
  responseKey: string;
  /** For `generationUpdated`: the generation it follows. */
  generationId?: string;
  /** The query an event runs: the subscription's selection under `generation(id:)`. */
  queryText: string;
  /** Its variables, but for the generation's id of a `myGenerations` event. */
  variables: Record<string, unknown>;
  operationName?: string;
  /** Whether the selection holds `queuePosition`, which changes when any generation starts running. */
  queuePosition: boolean;
  /**
   * The response key `status` is answered under (an alias, through fragments), for knowing an event is the
   * last; none when the selection does not hold it.
   */
  statusKey?: string;
  /** The estimated cost of one event. */
  cost: number;
}

/** A refusal of the subscription, as GraphQL errors a transport sends. */
export class SubscriptionRefused extends Error {
  constructor(readonly errors: readonly GraphQLError[]) {
    super(errors[0]?.message ?? 'Subscription refused');
  }
}

const refused = (code: string, message: string, extensions: Record<string, unknown> = {}) =>
  new SubscriptionRefused([new GraphQLError(message, { extensions: { code, ...extensions } })]);

/** The API schema and policy of a supergraph, worked out once per version of it. */
export function supergraphView(): (sdl: string, gatewaySdl: string) => { schema: GraphQLSchema; policy: SchemaPolicy } {
  let last: { sdl: string; schema: GraphQLSchema; policy: SchemaPolicy } | undefined;
  return (sdl, gatewaySdl) => {
    if (last?.sdl !== sdl) {
      last = {
        sdl,
        schema: Supergraph.build(gatewaySdl).apiSchema().toGraphQLJSSchema(),
        policy: SchemaPolicy.fromSupergraph(sdl),
      };
    }
    return last;
  };
}

/**
 * Checks a subscription as a query is checked (operation limits, validation
 * against the supergraph's API schema, authorization, estimated cost) and
 * makes the query its events run:
 * `subscription { generationUpdated(id: $id) { …S } }` runs
 * `query { generationUpdated: generation(id: $id) { …S } }`, and
 * `myGenerations { …S }` runs the same with the event's generation id.
 * Throws SubscriptionRefused with coded errors.
 */
export function prepareSubscription(
  request: SubscriptionRequest,
  context: {
    schema: GraphQLSchema;
    policy: SchemaPolicy;
    viewer: Viewer;
    limits: TierLimits;
    /** Why the viewer may not see a field with this policy, or null: the request path's own authorization. */
    denial: (policy: Policy, viewer: Viewer) => string | null;
    operationLimits: OperationLimits;
    defaultListSize: number;
  },
): PreparedSubscription {
  const { schema, policy, viewer, limits } = context;
  if (typeof request.query !== 'string' || request.query.trim() === '')
    throw refused(ErrorCode.BAD_REQUEST, 'Send the subscription as `query`');
  if (request.variables != null && (typeof request.variables !== 'object' || Array.isArray(request.variables)))
    throw refused(ErrorCode.BAD_REQUEST, '`variables` must be an object');
  if (request.operationName != null && typeof request.operationName !== 'string')
    throw refused(ErrorCode.BAD_REQUEST, '`operationName` must be a string');
  try {
    context.operationLimits.check(request.query, limits);
  } catch (error) {
    if (error instanceof HttpError) throw refused(error.code, error.message);
    throw error;
  }
  let document: DocumentNode;
  try {
    document = parse(request.query, { noLocation: true, maxTokens: limits.maxTokens });
  } catch (error) {
    throw new SubscriptionRefused([
      new GraphQLError((error as Error).message, { extensions: { code: ErrorCode.GRAPHQL_PARSE_FAILED } }),
    ]);
  }
  const invalid = validate(schema, document, [...specifiedRules, ReservedNamesRule]);
  if (invalid.length > 0) {
    throw new SubscriptionRefused(
      invalid.map((e) => new GraphQLError(e.message, { extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED } })),
    );
  }
  const operationName = request.operationName ?? undefined;
  const operation = getOperationAST(document, operationName);
  if (!operation)
    throw refused(ErrorCode.BAD_REQUEST, 'Name the operation to run: the document holds several, or none');
  if (operation.operation !== 'subscription')
    throw refused(
      ErrorCode.BAD_REQUEST,
      `Only subscriptions are served on this stream; send the ${operation.operation} to POST /graphql`,
    );
  const coerced = coerceVariables(schema, operation, (request.variables ?? undefined) as Record<string, unknown>);
  if ('errors' in coerced) throw new SubscriptionRefused(coerced.errors);
  const variables = coerced.variables;
  const fragments = fragmentsOf(document);

  // Authorization: a subscription is refused whole when the viewer may not see any field it selects.
  const analysis = analyzeOperation({ schema, operation, fragments, variables }, policy);
  for (const guarded of analysis.guarded) {
    const reason = context.denial(guarded.policy, viewer);
    if (reason) throw refused(ErrorCode.UNAUTHORIZED_FIELD_OR_TYPE, reason, { path: guarded.path });
  }

  // The one root field (validation allows one), selected directly.
  const root = operation.selectionSet.selections;
  const field = root[0];
  if (root.length !== 1 || field?.kind !== Kind.FIELD || field.directives?.length)
    throw refused(ErrorCode.BAD_REQUEST, 'Select one subscription field, without fragments or directives around it');
  const name = field.name.value as SubscriptionField;
  if (!SUBSCRIPTION_FIELDS.includes(name))
    throw refused(ErrorCode.BAD_REQUEST, `The router does not serve subscription field ${field.name.value}`);
  const responseKey = field.alias?.value ?? name;

  let generationId: string | undefined;
  let generationField: FieldNode;
  let variableDefinitions = operation.variableDefinitions ?? [];
  if (name === 'generationUpdated') {
    const argument = field.arguments?.find((a) => a.name.value === 'id');
    const value =
      argument?.value.kind === Kind.VARIABLE
        ? variables[argument.value.name.value]
        : argument?.value.kind === Kind.STRING || argument?.value.kind === Kind.INT
          ? argument.value.value
          : undefined;
    if (typeof value !== 'string') throw refused(ErrorCode.BAD_USER_INPUT, 'generationUpdated needs an id');
    generationId = value;
    generationField = {
      ...field,
      alias: { kind: Kind.NAME, value: responseKey },
      name: { kind: Kind.NAME, value: 'generation' },
    };
  } else {
    variableDefinitions = [
      ...variableDefinitions,
      {
        kind: Kind.VARIABLE_DEFINITION,
        variable: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: EVENT_ID_VARIABLE } },
        type: { kind: Kind.NON_NULL_TYPE, type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: 'ID' } } },
      },
    ];
    generationField = {
      ...field,
      alias: { kind: Kind.NAME, value: responseKey },
      name: { kind: Kind.NAME, value: 'generation' },
      arguments: [
        {
          kind: Kind.ARGUMENT,
          name: { kind: Kind.NAME, value: 'id' },
          value: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: EVENT_ID_VARIABLE } },
        },
      ],
    };
  }
  const queryOperation: OperationDefinitionNode = {
    ...operation,
    operation: 'query' as OperationDefinitionNode['operation'],
    variableDefinitions,
    selectionSet: { kind: Kind.SELECTION_SET, selections: [generationField] },
  };
  const query: DocumentNode = {
    kind: Kind.DOCUMENT,
    definitions: [queryOperation, ...Object.values(fragments)],
  };
  const costVariables = name === 'myGenerations' ? { ...variables, [EVENT_ID_VARIABLE]: '0' } : variables;
  const cost = estimateCost(
    { schema, policy, document: query, operationName, variables: costVariables },
    { defaultListSize: context.defaultListSize },
  ).cost;
  if (cost > limits.maxCostPerOperation) {
    throw refused(
      ErrorCode.COST_ESTIMATED_TOO_EXPENSIVE,
      `Each event's estimated cost ${cost} is over this tier's maximum of ${limits.maxCostPerOperation}`,
      { cost: { estimated: cost, max: limits.maxCostPerOperation } },
    );
  }
  // What the selection holds, as execution collects it: fragments (named, inline), aliases and @skip/@include.
  const generationType = schema.getType('Generation');
  const selected = isObjectType(generationType)
    ? [...subfieldsOf({ schema, operation, fragments, variables }, generationType, [field])]
    : [];
  const keyOf = (fieldName: string) => selected.find(([, nodes]) => nodes[0]?.name.value === fieldName)?.[0];
  return {
    field: name,
    responseKey,
    generationId,
    queryText: print(query),
    variables: request.variables ? { ...(request.variables as Record<string, unknown>) } : {},
    operationName,
    queuePosition: keyOf('queuePosition') !== undefined,
    statusKey: keyOf('status'),
    cost,
  };
}

/** The variables of the query for an event of `generationId`. */
export function eventVariables(prepared: PreparedSubscription, generationId: string): Record<string, unknown> {
  return prepared.field === 'myGenerations'
    ? { ...prepared.variables, [EVENT_ID_VARIABLE]: generationId }
    : prepared.variables;
}
