import { GraphQLError, type ASTNode, type ValidationRule } from 'graphql';
import { ErrorCode } from '@memegraph/service-kit';

/**
 * What every name the router adds to an operation starts with: the response
 * keys it selects for itself and takes out of answers again (`memegraphId`,
 * `memegraphType` and `memegraphId_<Type>` for entity tags and the entity
 * cache, `memegraphRemoved` for a selection it left empty) and the variable
 * a `myGenerations` event's query runs with (`memegraphGenerationId`).
 * Case-sensitive, as the router's own comparisons are: `MemegraphId` is a
 * client's like any other name.
 */
export const RESERVED_PREFIX = 'memegraph';

/**
 * A client's name beginning with the reserved prefix is refused: an alias
 * (or a field name, were the schema to have one) would be taken for one of
 * the router's own keys, naming the wrong type or id in the answer's cache
 * tags and vanishing from the client's answer; a variable would collide
 * with the one the router adds. Every selection of the document is read,
 * fragments included, whatever the variables: the router adds its keys to
 * every selection set.
 */
export const ReservedNamesRule: ValidationRule = (context) => {
  const refuse = (what: string, name: string, node: ASTNode) =>
    context.reportError(
      new GraphQLError(
        `${what} "${name}" begins with "${RESERVED_PREFIX}", a prefix the router reserves for its own names: choose another.`,
        { nodes: node, extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED } },
      ),
    );
  return {
    Field(node) {
      if (node.alias) {
        if (node.alias.value.startsWith(RESERVED_PREFIX)) refuse('Alias', node.alias.value, node);
        // An unknown field is refused on its own (FieldsOnCorrectTypeRule): only one the schema has collides.
      } else if (node.name.value.startsWith(RESERVED_PREFIX) && context.getFieldDef()) {
        refuse('Field', node.name.value, node);
      }
    },
    VariableDefinition(node) {
      if (node.variable.name.value.startsWith(RESERVED_PREFIX))
        refuse('Variable', `$${node.variable.name.value}`, node);
    },
  };
};
