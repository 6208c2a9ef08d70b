import { GraphQLError, Kind, valueFromAST, type FragmentDefinitionNode, type GraphQLSchema } from 'graphql';
import { LRUCache } from 'lru-cache';
import { ErrorCode, type Viewer } from '@memegraph/service-kit';
import { documentKey } from '../cache/key';
import { cachePolicyOf, type CachePolicy } from '../cache/policy';
import type { RouterMetrics } from '../metrics';
import { ROUTER_FIELDS, analyzeOperation, type GuardedField, type OperationAnalysis } from '../operation/analyze';
import { coerceVariables, conditionsKey, conditionsOf, fragmentsOf } from '../operation/walk';
import type { Policy, SchemaPolicy } from '../policy/schemaPolicy';
import type { Stage } from './runner';
import { reject, type OperationState } from './state';

/** Why `viewer` may not see a field with `policy`, or null when it may. */
export function denial(policy: Policy, viewer: Viewer): string | null {
  if ((policy.authenticated || policy.requiresScopes?.length) && viewer.kind !== 'user')
    return 'Sign in to see this field';
  const sets = policy.requiresScopes;
  if (sets?.length && !sets.some((set) => set.every((scope) => viewer.scopes.includes(scope)))) {
    return `This field needs scope ${sets.map((s) => s.join(' + ')).join(' or ')}`;
  }
  return null;
}

/** What a document is, whatever its variables. */
interface DocumentFacts {
  fragments: Record<string, FragmentDefinitionNode>;
  /** Its `@skip`/`@include` directives: the executed shape depends on their conditions only. */
  conditions: ReturnType<typeof conditionsOf>;
  /** The document's canonical digest, for response cache keys. */
  documentKey: string;
}

/** What the operation executes, for one set of `@skip`/`@include` conditions. */
interface Prepared {
  analysis: OperationAnalysis;
  cachePolicy: CachePolicy;
  mutationFields: string[];
  fieldLimited: boolean;
}

export interface AnalysisStage extends Stage<OperationState> {
  /** Forgets what it worked out: a new schema or policy may read the same document differently. */
  clear(): void;
}

/**
 * Analysis and authorization: the operation Apollo picked, its variables
 * coerced, the document read as it executes with them (operation/walk.ts:
 * analysis, cache policy, mutation fields), kept per document and
 * `@skip`/`@include` conditions; then the fields this viewer may not see are
 * set aside to be removed before planning, as are the fields the router
 * answers itself.
 */
export function createAnalysis(deps: {
  schema: () => GraphQLSchema;
  policy: () => SchemaPolicy;
  metrics: RouterMetrics;
}): AnalysisStage {
  const documents = new LRUCache<string, DocumentFacts>({ max: 2_000 });
  const analyses = new LRUCache<string, Prepared>({ max: 2_000 });

  const factsOf = (state: OperationState): DocumentFacts => {
    const { rc } = state;
    const key = `${rc.queryHash}:${rc.operationName ?? ''}`;
    let facts = documents.get(key);
    if (!facts) {
      facts = {
        fragments: fragmentsOf(rc.document),
        conditions: conditionsOf(rc.document),
        documentKey: documentKey(rc.document, rc.operation!),
      };
      documents.set(key, facts);
    }
    return facts;
  };

  /** The operation as it executes with these variables; throws a coded error for a condition execution would refuse. */
  const prepare = (state: OperationState, facts: DocumentFacts): Prepared => {
    const { rc, variables } = state;
    const key = `${rc.queryHash}:${rc.operationName ?? ''}:${conditionsKey(facts.conditions, variables)}`;
    let prepared = analyses.get(key);
    if (!prepared) {
      const policy = deps.policy();
      const input = { schema: deps.schema(), operation: rc.operation!, fragments: facts.fragments, variables };
      const analysis = analyzeOperation(input, policy);
      prepared = {
        analysis,
        cachePolicy: cachePolicyOf(input, policy),
        mutationFields: rc.operation!.operation === 'mutation' ? analysis.rootFields.map((f) => f.name) : [],
        fieldLimited: analysis.guarded.some((field) => !!field.policy.rateLimit),
      };
      analyses.set(key, prepared);
    }
    return prepared;
  };

  return {
    name: 'analysis',
    clear() {
      documents.clear();
      analyses.clear();
    },
    run(state) {
      const { rc } = state;
      // Apollo Server leaves resolving the operation to a gateway: an error returned here becomes
      // its OPERATION_RESOLUTION_FAILURE (400), where a throw would be a 500.
      if (!rc.operation) {
        const operations = rc.document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION).length;
        const message = rc.request.operationName
          ? `Unknown operation named "${rc.request.operationName}".`
          : operations > 1
            ? 'Must provide an operation name if the document contains several operations.'
            : 'Must provide an operation.';
        return state.answer('refused', { errors: [new GraphQLError(message)] });
      }
      // Every check reads the operation as it executes: with the variables execution will use.
      const facts = factsOf(state);
      const coerced = coerceVariables(deps.schema(), rc.operation, rc.request.variables);
      if ('errors' in coerced) return state.answer('refused', { errors: coerced.errors });
      state.variables = coerced.variables;
      let prepared: Prepared;
      try {
        prepared = prepare(state, facts);
      } catch (error) {
        if (error instanceof GraphQLError) return state.answer('refused', { errors: [error] });
        throw error;
      }
      state.documentKey = facts.documentKey;
      state.analysis = prepared.analysis;
      state.cachePolicy = prepared.cachePolicy;
      state.mutationFields = prepared.mutationFields;
      state.fieldLimited = prepared.fieldLimited;
      state.context.report.operationName = rc.operationName ?? undefined;

      // Authorization: fields this viewer may not see never reach the planner.
      for (const field of prepared.analysis.guarded) {
        const reason = denial(field.policy, state.viewer);
        if (reason) {
          reject(state, deps.metrics, ErrorCode.UNAUTHORIZED_FIELD_OR_TYPE);
          state.removals.push({ ...field, error: { code: ErrorCode.UNAUTHORIZED_FIELD_OR_TYPE, message: reason } });
          for (const node of field.nodes) state.remove.add(node);
        } else if (ROUTER_FIELDS.has(`${field.typeName}.${field.fieldName}`)) {
          state.routerFields.push(field);
          for (const node of field.nodes) state.remove.add(node);
        }
      }
    },
  };
}

/** A guarded field's arguments, as execution will read them. */
export function argumentValues(
  field: GuardedField,
  schema: GraphQLSchema,
  variables: Record<string, unknown>,
): Record<string, unknown> {
  const type = schema.getType(field.typeName);
  const definition = type && 'getFields' in type ? type.getFields()[field.fieldName] : undefined;
  const values: Record<string, unknown> = {};
  for (const arg of definition && 'args' in definition ? definition.args : []) {
    const node = field.nodes[0]!.arguments?.find((a) => a.name.value === arg.name);
    values[arg.name] = node ? valueFromAST(node.value, arg.type, variables) : arg.defaultValue;
  }
  return values;
}
