import { GraphQLError, type ValidationRule } from 'graphql';
import { ErrorCode } from '@memegraph/service-kit';

/**
 * A subscription sent as a request (POST or GET /graphql) is refused: the
 * router serves them on streams (subscriptions/).
 *
 * An operation whose root type the schema lacks (a `subscription` while the
 * schema has none) is a validation error, as the GraphQL spec's "Operation
 * Type Existence" rule says. graphql-js 16 does not check it (its
 * `KnownOperationTypesRule` comes in 17), so such a document passed
 * validation and failed later inside execution, as a 500.
 */
export const KnownOperationTypesRule: ValidationRule = (context) => ({
  OperationDefinition(node) {
    if (node.operation === 'subscription' && context.getSchema()?.getRootType(node.operation)) {
      // The schema has subscriptions, but a request answers once: they are served on streams.
      context.reportError(
        new GraphQLError(
          'Subscriptions are served on streams: GraphQL over Server-Sent Events at /graphql/stream (or /graphql with Accept: text/event-stream), or GraphQL over WebSocket (graphql-ws) at /graphql.',
          { nodes: node, extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED } },
        ),
      );
      return;
    }
    if (context.getSchema()?.getRootType(node.operation)) return;
    context.reportError(
      new GraphQLError(`The schema has no ${node.operation} type, so it cannot run this ${node.operation}.`, {
        nodes: node,
        extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED },
      }),
    );
  },
});
