import {
  Kind,
  TypeInfo,
  getNamedType,
  isInterfaceType,
  isListType,
  getNullableType,
  isObjectType,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type FieldNode,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';

/** Response keys the router adds to learn which entities a response holds; taken out before clients see it. */
export const ENTITY_ID = 'memegraphId';
export const ENTITY_TYPE = 'memegraphType';

const field = (alias: string, name: string): FieldNode => ({
  kind: Kind.FIELD,
  alias: { kind: Kind.NAME, value: alias },
  name: { kind: Kind.NAME, value: name },
});

/**
 * Adds `memegraphId: id` and `memegraphType: __typename` to every
 * selection on a type with an `id`, so a cached response
 * can be tagged with the entities it contains even when the client did not
 * ask for their ids.
 */
export function withEntityIds(schema: GraphQLSchema, document: DocumentNode): DocumentNode {
  const typeInfo = new TypeInfo(schema);
  return visit(
    document,
    visitWithTypeInfo(typeInfo, {
      SelectionSet: {
        leave(node): SelectionSetNode | undefined {
          const type = typeInfo.getParentType();
          if (!type || !(isObjectType(type) || isInterfaceType(type)) || !type.getFields().id) return undefined;
          return { ...node, selections: [...node.selections, field(ENTITY_ID, 'id'), field(ENTITY_TYPE, '__typename')] };
        },
      },
    }),
  );
}

/**
 * The entity tags of a response (`Meme:42`), plus `Meme:list` for every
 * list of memes, read from the added keys, which it then removes.
 */
export function takeEntityTags(schema: GraphQLSchema, document: DocumentNode, data: unknown): Set<string> {
  const tags = new Set<string>();
  const typeInfo = new TypeInfo(schema);
  // Which parent types hold lists of entities, found from the document with the schema.
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field() {
        const type = typeInfo.getType();
        if (!type) return;
        const nullable = getNullableType(type);
        const named = getNamedType(type);
        if (isListType(nullable) && (isObjectType(named) || isInterfaceType(named)) && named.getFields().id) tags.add(`${named.name}:list`);
      },
    }),
  );
  const walk = (value: unknown) => {
    if (Array.isArray(value)) {
      for (const item of value) walk(item);
      return;
    }
    if (!value || typeof value !== 'object') return;
    const object = value as Record<string, unknown>;
    const id = object[ENTITY_ID];
    const type = object[ENTITY_TYPE];
    delete object[ENTITY_ID];
    delete object[ENTITY_TYPE];
    if (id !== undefined && id !== null && typeof type === 'string') tags.add(`${type}:${String(id)}`);
    for (const child of Object.values(object)) walk(child);
  };
  walk(data);
  return tags;
}
