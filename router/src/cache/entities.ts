import {
  Kind,
  TypeInfo,
  isInterfaceType,
  isObjectType,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type FieldNode,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { RESERVED_PREFIX } from '../operation/reservedNames';

/**
 * Response keys the router adds to learn which entities a response holds;
 * taken out before clients see it. A client's alias may not begin with
 * their prefix (operation/reservedNames.ts).
 */
export const ENTITY_ID = `${RESERVED_PREFIX}Id`;
export const ENTITY_TYPE = `${RESERVED_PREFIX}Type`;
/**
 * On an object type, the id alone is added, under a key that names the
 * type (`memegraphId_Meme`): the type is known from the document, so the
 * subgraphs resolve, and the gateway merges and shapes, one field fewer
 * per object.
 */
export const ENTITY_ID_OF = `${ENTITY_ID}_`;
/** The first character of every added key, compared before the whole prefix. */
const M = RESERVED_PREFIX.charCodeAt(0);

/** The type an added id key names (`memegraphId_Meme` → `Meme`), or undefined for any other key. */
export function entityTypeOfKey(key: string): string | undefined {
  return key.length > ENTITY_ID_OF.length && key.startsWith(ENTITY_ID_OF) ? key.slice(ENTITY_ID_OF.length) : undefined;
}

const field = (alias: string, name: string): FieldNode => ({
  kind: Kind.FIELD,
  alias: { kind: Kind.NAME, value: alias },
  name: { kind: Kind.NAME, value: name },
});

/**
 * Adds the id to every selection on a type with an `id`, so a cached
 * response can be tagged with the entities it contains even when the
 * client did not ask for their ids: `memegraphId_Type: id` on an object
 * type, `memegraphId: id` and `memegraphType: __typename` on an interface.
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
          const added = isObjectType(type)
            ? [field(`${ENTITY_ID_OF}${type.name}`, 'id')]
            : [field(ENTITY_ID, 'id'), field(ENTITY_TYPE, '__typename')];
          return { ...node, selections: [...node.selections, ...added] };
        },
      },
    }),
  );
}

/**
 * The answer without the added keys, and its entity tags (`Meme:42`, plus
 * `Meme:list` when memes appear inside a list), in one walk that copies
 * it. The gateway builds every object of an answer with a null prototype,
 * which V8 keeps as a slow dictionary; the copy is made of plain objects
 * that share their hidden classes, so every later reading of it (actual
 * cost, the cached copy's serialization, Apollo's) is faster. Measured on a
 * page of 60 memes shaped as the gateway shapes it: 170 against 350 µs to
 * take the tags, serialize twice and walk it once.
 */
export function withoutEntityIds(data: Record<string, unknown>): { data: Record<string, unknown>; tags: Set<string> } {
  const tags = new Set<string>();
  /** `Type:list`, made once per type and answer. */
  const listTags = new Map<string, string>();
  const copyObject = (object: Record<string, unknown>, inList: boolean): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    let id: unknown;
    let type: unknown;
    for (const key in object) {
      const value = object[key];
      if (key.charCodeAt(0) === M && key.startsWith(RESERVED_PREFIX)) {
        // memegraphId, memegraphType, memegraphId_Type: taken out.
        if (key === ENTITY_ID) {
          id = value;
          continue;
        }
        if (key === ENTITY_TYPE) {
          type = value;
          continue;
        }
        const named = addedKeyType(key);
        if (named !== undefined) {
          id = value;
          type ??= named;
          continue;
        }
      } else if (key === '__proto__') {
        Object.defineProperty(out, key, {
          value: typeof value === 'object' && value !== null ? copyValue(value, inList) : value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
        continue;
      }
      out[key] = typeof value === 'object' && value !== null ? copyValue(value, inList) : value;
    }
    if (typeof type === 'string') {
      if (id !== undefined && id !== null) tags.add(`${type}:${String(id)}`);
      if (inList && !listTags.has(type)) {
        const tag = `${type}:list`;
        listTags.set(type, tag);
        tags.add(tag);
      }
    }
    return out;
  };
  const copyValue = (value: object, inList: boolean): unknown => {
    if (!Array.isArray(value)) return copyObject(value as Record<string, unknown>, inList);
    const items = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      items[i] = typeof item === 'object' && item !== null ? copyValue(item, true) : item;
    }
    return items;
  };
  return { data: copyObject(data, false), tags };
}

/** The types added id keys name, by key (null: a key that is not one), so each is sliced once. */
const addedKeyTypes = new Map<string, string | null>();

function addedKeyType(key: string): string | undefined {
  let type = addedKeyTypes.get(key);
  if (type === undefined) {
    type = entityTypeOfKey(key) ?? null;
    // Keys are few (one per type with an id); any past a bound are sliced each time.
    if (addedKeyTypes.size < 1_000) addedKeyTypes.set(key, type);
  }
  return type ?? undefined;
}
