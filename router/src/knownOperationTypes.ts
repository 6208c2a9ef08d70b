import { GraphQLError, type ValidationRule } from 'graphql';
import { ErrorCode } from '@memegraph/service-kit';

/**
 * An operation whose root type the schema lacks (a `subscription` while the
 * schema has none) is a validation error, as the GraphQL spec's "Operation
 * Type Existence" rule says. graphql-js 16 does not check it (its
 * `KnownOperationTypesRule` comes in 17), so such a document passed
 * validation and failed later inside execution, as a 500.
 */
export const KnownOperationTypesRule: ValidationRule = (context) => ({
  OperationDefinition(node) {
    if (context.getSchema()?.getRootType(node.operation)) return;
    context.reportError(
      new GraphQLError(`The schema has no ${node.operation} type, so it cannot run this ${node.operation}.`, {
        nodes: node,
        extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED },
      }),
    );
  },
});
