import { createHash } from 'node:crypto';
import {
  Kind,
  getNamedType,
  isAbstractType,
  isCompositeType,
  isObjectType,
  parse,
  print,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionNode,
} from 'graphql';
import { LRUCache } from 'lru-cache';
import { annotateActiveSpan, type Viewer } from '@memegraph/service-kit';
import { fieldPolicy } from '../operation/analyze';
import { fragmentApplies, fragmentsOf } from '../operation/walk';
import type { SchemaPolicy } from '../policy/schemaPolicy';
import type { SharedState } from '../state/shared';
import { TaggedCache, type Found } from '../state/taggedCache';
import { ENTITY_ID, ENTITY_ID_OF, ENTITY_TYPE, entityTypeOfKey } from './entities';
import { entryCodec } from './entryCodec';
import type { CachePolicy } from './policy';
import { stableJson } from './key';
import { ENTITY_CACHE_NAMES } from './keyKinds';

/** One entity as a subgraph answered it, for one selection and viewer partition. */
export interface CachedEntity {
  /** The entity's data, serialized: each use parses its own copy, which the gateway then merges into. */
  data: string;
  /** Epoch ms. */
  storedAt: number;
  /** Seconds it is fresh. */
  maxAge: number;
  /** The entity itself (`User:7`) and every entity inside it, plus `Type:list` for those in lists. */
  tags: string[];
}

/** A subgraph's answer to one fetch, as the gateway reads it. */
export interface SubgraphAnswer {
  data?: Record<string, unknown> | null;
  errors?: readonly SubgraphError[];
  extensions?: Record<string, unknown>;
}

interface SubgraphError {
  message: string;
  path?: readonly (string | number)[];
  [key: string]: unknown;
}

export interface EntityCacheOptions {
  /** How long this process keeps an entity itself, in front of Redis (never past its maxAge). */
  localTtlMs: number;
  /** Bytes of entities (as stored) this process keeps in front of Redis. */
  maxLocalBytes?: number;
  /** Told, per `_entities` fetch, how many entities the cache answered and how many were asked of the subgraph. */
  onServed?: (subgraph: string, fromCache: number, fetched: number) => void;
  now?: () => number;
}

/** Enough for tens of thousands of small entities. */
export const DEFAULT_ENTITY_LOCAL_MAX_BYTES = 16 * 1024 * 1024;

/** What one entity type's selection in a fetch allows: how long and for whom its entities may be kept. */
interface TypeSelection {
  policy: CachePolicy;
  /** The fields selected on the type, fragments expanded. */
  selections: readonly SelectionNode[];
}

/** An `_entities` fetch document, read once per text. */
interface FetchShape {
  /** The document without its operation name (the gateway names fetches after the client's operation). */
  documentKey: string;
  fragments: Record<string, FragmentDefinitionNode>;
  types: Map<string, TypeSelection>;
  /** Digests of what its entities are kept under but their representation, by subgraph, variables and partition. */
  prefixes: LRUCache<string, string>;
}

/**
 * The entity cache: `_entities` fetches answered per entity. An entity is
 * kept under the subgraph, the fetch's selection (its document without the
 * operation name) and other variables, its representation (type and key
 * fields), and the viewer's partition (tier and scopes, and for a PRIVATE
 * selection the viewer), for the maxAge its type and the fields selected on
 * it allow (`@cacheControl`, as for responses). A tagged cache (see
 * TaggedCache): in-process LRU over Redis, purged by the same entity tags as
 * the response cache, on every router. A fetch asks the subgraph only for
 * the representations not found, once each, and the answer is stitched back
 * in the order asked; an error at an entity stays at that entity's path,
 * and nothing of an entity with an error is kept.
 */
export class EntityCache {
  private readonly cache: TaggedCache<CachedEntity>;
  private readonly now: () => number;
  /** Fetch shapes per API schema, by fetch text; null for a fetch that is not an entity fetch. */
  private shapes = new WeakMap<GraphQLSchema, LRUCache<string, FetchShape | { none: true }>>();

  constructor(
    state: SharedState,
    private policy: SchemaPolicy,
    private readonly options: EntityCacheOptions,
  ) {
    const now = (this.now = options.now ?? Date.now);
    this.cache = new TaggedCache<CachedEntity>(state, {
      component: 'entity cache',
      names: ENTITY_CACHE_NAMES,
      tagsOf: (entry) => entry.tags,
      sharedTtlMs: (entry) => entry.maxAge * 1000,
      localTtlMs: (entry, withRedis, at) => {
        const left = entry.maxAge * 1000 - (at - entry.storedAt);
        return withRedis ? Math.min(options.localTtlMs, left) : left;
      },
      maxLocalBytes: options.maxLocalBytes ?? DEFAULT_ENTITY_LOCAL_MAX_BYTES,
      codec: entryCodec<CachedEntity>(),
      now,
    });
  }

  /** A reloaded supergraph brings its own `@cacheControl`. */
  setPolicy(policy: SchemaPolicy): void {
    this.policy = policy;
    this.shapes = new WeakMap();
  }

  /** Removes every entity listed under any of `tags`, here, in Redis and on every other router. */
  purge(tags: readonly string[]): Promise<void> {
    return this.cache.purge(tags);
  }

  /**
   * Answers a fetch: an `_entities` fetch from the cache as far as it can,
   * sending only the missing representations; any other fetch as it is.
   */
  async fetch(input: {
    subgraph: string;
    schema: GraphQLSchema;
    query: string;
    variables: Record<string, unknown>;
    viewer: Viewer;
    viewerKey: string;
    send: (variables: Record<string, unknown>) => Promise<SubgraphAnswer>;
  }): Promise<SubgraphAnswer> {
    const { variables, send } = input;
    const shape = this.shapeOf(input.schema, input.query);
    const representations = variables.representations;
    if (!shape || !Array.isArray(representations)) return send(variables);

    const { representations: _, ...others } = variables;
    // What every entity of this fetch is kept under, but its representation: one digest per fetch and scope,
    // kept with the fetch's shape for the next fetch of it with the same variables and viewer partition.
    const partition = `${input.viewer.tier}|${[...input.viewer.scopes].sort().join(' ')}`;
    const othersKey = stableJson(others);
    const prefixes: Partial<Record<CachePolicy['scope'], string>> = {};
    const prefixOf = (scope: CachePolicy['scope']) => (prefixes[scope] ??= keptPrefix(scope));
    const keptPrefix = (scope: CachePolicy['scope']) => {
      const who = scope === 'PRIVATE' ? input.viewerKey : '*';
      const known = `${input.subgraph}\0${othersKey}\0${partition}\0${who}`;
      let prefix = shape.prefixes.get(known);
      if (prefix === undefined) {
        prefix = createHash('sha256')
          // The entry's format: since v2 its data is written as the JSON it is rather than as a string of it
          // (cache/entryCodec.ts), so keys of entries kept otherwise are never read.
          .update('v2\0')
          .update(input.subgraph)
          .update('\0')
          .update(shape.documentKey)
          .update('\0')
          .update(othersKey)
          .update('\0')
          .update(partition)
          .update('\0')
          .update(who)
          .digest('base64url');
        shape.prefixes.set(known, prefix);
      }
      return prefix;
    };
    const keys = (representations as unknown[]).map((representation) => this.keyOf(shape, prefixOf, representation));
    const now = this.now();
    const fresh = (hit: Found<CachedEntity> | undefined) =>
      hit && !hit.staleOnly && now - hit.value.storedAt < hit.value.maxAge * 1000 ? hit.value : undefined;
    // What this process holds is read at once; only the rest is asked of Redis, together. An entity the
    // fetch holds several times (an author of several memes) is looked up once.
    const found = new Array<CachedEntity | undefined>(keys.length);
    const firstAt = new Map<string, number>();
    let repeats: number[] | undefined;
    let asked: Promise<void>[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      if (!key) continue;
      if (firstAt.has(key.key)) {
        (repeats ??= []).push(i);
        continue;
      }
      firstAt.set(key.key, i);
      const local = this.cache.getLocal(key.key);
      if (local) found[i] = fresh(local);
      else
        (asked ??= []).push(
          this.cache.get(key.key).then((hit) => {
            found[i] = fresh(hit);
          }),
        );
    }
    if (asked) await Promise.all(asked);
    for (const i of repeats ?? []) found[i] = found[firstAt.get(keys[i]!.key)!];

    // Each missing representation is asked once, whatever the number of times the fetch holds it.
    const missing: unknown[] = [];
    const slotOf = new Map<string, number>();
    const slots = keys.map((key, i) => {
      if (found[i]) return -1;
      const dedupe = key?.key ?? `#${i}`;
      let slot = slotOf.get(dedupe);
      if (slot === undefined) {
        slot = missing.push(representations[i]) - 1;
        slotOf.set(dedupe, slot);
      }
      return slot;
    });
    this.options.onServed?.(input.subgraph, keys.length - missing.length, missing.length);
    // On the fetch's span (gateway.fetch): how much of it the entity cache answered.
    annotateActiveSpan({
      'memegraph.entity_cache.hits': keys.length - missing.length,
      'memegraph.entity_cache.misses': missing.length,
    });
    if (missing.length === 0) {
      return { data: { _entities: found.map((entry) => JSON.parse(entry!.data) as unknown) } };
    }

    const generation = this.cache.generation;
    const answer = await send({ ...variables, representations: missing });

    // Errors at an entity go to each place it was asked at; other errors once, as they came.
    const errorsAt = new Map<number, SubgraphError[]>();
    const elsewhere: SubgraphError[] = [];
    for (const error of answer.errors ?? []) {
      const slot = error.path?.[0] === '_entities' && typeof error.path[1] === 'number' ? error.path[1] : undefined;
      if (slot === undefined) elsewhere.push(error);
      else errorsAt.set(slot, [...(errorsAt.get(slot) ?? []), error]);
    }
    const errors: SubgraphError[] = [...elsewhere];
    slots.forEach((slot, i) => {
      for (const error of errorsAt.get(slot) ?? [])
        errors.push({ ...error, path: ['_entities', i, ...error.path!.slice(2)] });
    });
    const withErrors = errors.length ? { errors } : {};
    const fetched = answer.data?._entities;
    // No entities (the whole fetch failed): nothing to stitch, the errors at their places.
    if (!Array.isArray(fetched) || fetched.length !== missing.length) {
      const { errors: _errors, ...unstitched } = answer;
      return { ...unstitched, ...withErrors };
    }
    const texts = fetched.map((entity) => (entity == null ? null : JSON.stringify(entity)));
    const entities = slots.map((slot, i) => {
      if (slot < 0) return JSON.parse(found[i]!.data) as unknown;
      const text = texts[slot];
      return text == null ? fetched[slot] : (JSON.parse(text) as unknown);
    });

    // Kept: entities that came whole, unless a purge was seen meanwhile (they may predate it).
    if (elsewhere.length === 0 && this.cache.generation === generation) {
      const storedAt = this.now();
      const writes: Promise<void>[] = [];
      keys.forEach((key, i) => {
        const slot = slots[i]!;
        if (!key || slot < 0 || slotOf.get(key.key) !== slot) return;
        const text = texts[slot];
        if (text == null || errorsAt.has(slot)) return;
        const tags = key.type.policy.maxAge > 0 ? this.tagsOf(input.schema, shape, key, fetched[slot]) : null;
        if (!tags) return;
        const entry: CachedEntity = { data: text, storedAt, maxAge: key.type.policy.maxAge, tags: [...tags] };
        writes.push(this.cache.set(key.key, entry));
      });
      await Promise.all(writes);
    }
    return { ...answer, data: { ...answer.data, _entities: entities }, errors: errors.length ? errors : undefined };
  }

  /** An entity's cache key, or undefined when it may not be kept. */
  private keyOf(
    shape: FetchShape,
    prefixOf: (scope: CachePolicy['scope']) => string,
    representation: unknown,
  ): { key: string; type: TypeSelection; typename: string; id: string } | undefined {
    if (!representation || typeof representation !== 'object') return undefined;
    const { __typename: typename, id } = representation as { __typename?: unknown; id?: unknown };
    if (typeof typename !== 'string' || (typeof id !== 'string' && typeof id !== 'number')) return undefined;
    const type = shape.types.get(typename);
    if (!type || type.policy.maxAge <= 0) return undefined;
    const key = `${prefixOf(type.policy.scope)}:${representationKey(representation as Record<string, unknown>, typename, id)}`;
    return { key, type, typename, id: String(id) };
  }

  /** The fetch's shape, read once per schema and text. */
  private shapeOf(schema: GraphQLSchema, query: string): FetchShape | undefined {
    let byText = this.shapes.get(schema);
    if (!byText) this.shapes.set(schema, (byText = new LRUCache({ max: 1_000 })));
    let shape = byText.get(query);
    if (!shape) {
      shape = readShape(schema, this.policy, query) ?? { none: true };
      byText.set(query, shape);
    }
    return 'none' in shape ? undefined : shape;
  }

  /**
   * The tags of an entity: itself, and every entity inside it (listed by its
   * id, plus `Type:list` inside a list). Undefined when an object inside it
   * that has an id was selected without it: a change to it could not be
   * told apart, so the entity is not kept.
   */
  private tagsOf(
    schema: GraphQLSchema,
    shape: FetchShape,
    key: { type: TypeSelection; typename: string; id: string },
    entity: unknown,
  ): Set<string> | undefined {
    const tags = new Set([`${key.typename}:${key.id}`]);
    const root = schema.getType(key.typename);
    if (!isObjectType(root)) return undefined;
    const walk = (
      type: GraphQLObjectType,
      selections: readonly SelectionNode[],
      value: unknown,
      inList: boolean,
    ): boolean => {
      if (!value || typeof value !== 'object') return true;
      const object = value as Record<string, unknown>;
      for (const [responseKey, nodes] of fieldsOf(schema, type, selections, shape.fragments)) {
        const field = type.getFields()[nodes[0]!.name.value];
        if (!field) continue;
        const named = getNamedType(field.type);
        if (!isCompositeType(named)) continue;
        const sub = nodes.flatMap((node) => node.selectionSet?.selections ?? []);
        const visitValue = (child: unknown, listed: boolean): boolean => {
          if (Array.isArray(child)) return child.every((item) => visitValue(item, true));
          if (!child || typeof child !== 'object') return true;
          const record = child as Record<string, unknown>;
          const typename =
            record.__typename ?? record[ENTITY_TYPE] ?? (isObjectType(named) ? named.name : addedType(record));
          const concrete = typeof typename === 'string' ? schema.getType(typename) : undefined;
          if (!isObjectType(concrete)) return false;
          if (concrete.getFields().id) {
            const id =
              record[`${ENTITY_ID_OF}${concrete.name}`] ??
              record[ENTITY_ID] ??
              record[idKey(schema, concrete, sub, shape.fragments) ?? ''];
            if (id == null) return false;
            tags.add(`${concrete.name}:${String(id)}`);
            if (listed) tags.add(`${concrete.name}:list`);
          }
          return walk(concrete, sub, record, listed);
        };
        if (!visitValue(object[responseKey], inList)) return false;
      }
      return true;
    };
    return walk(root, key.type.selections, entity, false) ? tags : undefined;
  }
}

/**
 * A representation, canonically: `Type:id` for the usual `{ __typename, id }`
 * with a string id (no GraphQL type name starts with `{`, so it is never
 * another representation's), else its JSON with keys sorted.
 */
function representationKey(representation: Record<string, unknown>, typename: string, id: string | number): string {
  if (typeof id === 'string') {
    let fields = 0;
    for (const _ in representation) fields++;
    if (fields === 2) return `${typename}:${id}`;
  }
  return stableJson(representation);
}

/** The type an object's added id key names (`memegraphId_Meme`), for an object of an abstract type without `__typename`. */
function addedType(record: Record<string, unknown>): string | undefined {
  for (const key of Object.keys(record)) {
    const type = entityTypeOfKey(key);
    if (type !== undefined) return type;
  }
  return undefined;
}

/** The response key `id` is selected under on `type`, if it is. */
function idKey(
  schema: GraphQLSchema,
  type: GraphQLObjectType,
  selections: readonly SelectionNode[],
  fragments: Record<string, FragmentDefinitionNode>,
): string | undefined {
  for (const [responseKey, nodes] of fieldsOf(schema, type, selections, fragments))
    if (nodes[0]!.name.value === 'id') return responseKey;
  return undefined;
}

/** The fields selected on an object of `type`, by response key, fragments expanded (`@skip`/`@include` taken as included). */
function fieldsOf(
  schema: GraphQLSchema,
  type: GraphQLObjectType,
  selections: readonly SelectionNode[],
  fragments: Record<string, FragmentDefinitionNode>,
): Map<string, FieldNode[]> {
  const fields = new Map<string, FieldNode[]>();
  const collect = (list: readonly SelectionNode[]) => {
    for (const selection of list) {
      if (selection.kind === Kind.FIELD) {
        const responseKey = selection.alias?.value ?? selection.name.value;
        fields.set(responseKey, [...(fields.get(responseKey) ?? []), selection]);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (fragmentApplies(schema, selection.typeCondition?.name.value, type))
          collect(selection.selectionSet.selections);
      } else {
        const fragment = fragments[selection.name.value];
        if (fragment && fragmentApplies(schema, fragment.typeCondition.name.value, type))
          collect(fragment.selectionSet.selections);
      }
    }
  };
  collect(selections);
  return fields;
}

/**
 * The cache policy of a selection on an entity of `type`, as `cachePolicyOf`
 * reads an operation: the entity takes its type's hint (as a root field
 * without one would), fields returning objects their own hint, else their
 * type's, else 0 (or the parent's with `inheritMaxAge`); leaf fields only
 * restrict when hinted. Every field counts, whatever `@skip`/`@include`
 * would decide: the policy can only be stricter than the request's.
 */
function entityPolicy(
  schema: GraphQLSchema,
  policy: SchemaPolicy,
  type: GraphQLObjectType,
  selections: readonly SelectionNode[],
  fragments: Record<string, FragmentDefinitionNode>,
): CachePolicy {
  const typeHint = policy.type(type.name)?.cacheControl;
  const result: CachePolicy = { maxAge: typeHint?.maxAge ?? 0, scope: typeHint?.scope ?? 'PUBLIC' };
  const walk = (parent: GraphQLObjectType, list: readonly SelectionNode[], parentMaxAge: number, depth: number) => {
    if (depth > 32) return;
    for (const nodes of fieldsOf(schema, parent, list, fragments).values()) {
      const name = nodes[0]!.name.value;
      const field = parent.getFields()[name];
      if (!field) continue;
      const named = getNamedType(field.type);
      const fieldHint = fieldPolicy(policy, parent, name)?.cacheControl;
      const hint = isCompositeType(named) ? policy.type(named.name)?.cacheControl : undefined;
      if (fieldHint?.scope === 'PRIVATE' || hint?.scope === 'PRIVATE') result.scope = 'PRIVATE';
      let maxAge: number | undefined;
      if (fieldHint?.maxAge !== undefined) maxAge = fieldHint.maxAge;
      else if (isCompositeType(named)) {
        if (fieldHint?.inheritMaxAge || (!fieldHint && hint?.inheritMaxAge)) maxAge = parentMaxAge;
        else maxAge = hint?.maxAge ?? (fieldHint ? parentMaxAge : 0);
      }
      if (maxAge !== undefined) result.maxAge = Math.min(result.maxAge, maxAge);
      const sub = nodes.flatMap((node) => node.selectionSet?.selections ?? []);
      const possible = isObjectType(named) ? [named] : isAbstractType(named) ? schema.getPossibleTypes(named) : [];
      for (const object of possible) walk(object, sub, maxAge ?? parentMaxAge, depth + 1);
    }
  };
  walk(type, selections, result.maxAge, 0);
  return result;
}

/** The shape of an `_entities` fetch, or undefined for any other fetch. */
function readShape(schema: GraphQLSchema, policy: SchemaPolicy, query: string): FetchShape | undefined {
  let document;
  try {
    document = parse(query, { noLocation: true });
  } catch {
    return undefined;
  }
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  const operation = operations[0];
  if (operations.length !== 1 || operation!.operation !== 'query') return undefined;
  const root = operation!.selectionSet.selections;
  const entities = root[0];
  if (root.length !== 1 || entities?.kind !== Kind.FIELD || entities.name.value !== '_entities' || entities.alias)
    return undefined;
  const fragments = fragmentsOf(document);
  const types = new Map<string, TypeSelection>();
  const selected = entities.selectionSet?.selections ?? [];
  const conditions = new Set<string>();
  for (const selection of selected) {
    if (selection.kind === Kind.INLINE_FRAGMENT && selection.typeCondition)
      conditions.add(selection.typeCondition.name.value);
    if (selection.kind === Kind.FRAGMENT_SPREAD && fragments[selection.name.value])
      conditions.add(fragments[selection.name.value]!.typeCondition.name.value);
  }
  for (const condition of conditions) {
    const named = schema.getType(condition);
    for (const type of isObjectType(named) ? [named] : isAbstractType(named) ? schema.getPossibleTypes(named) : []) {
      if (types.has(type.name)) continue;
      types.set(type.name, { policy: entityPolicy(schema, policy, type, selected, fragments), selections: selected });
    }
  }
  const anonymous = { ...operation!, name: undefined };
  const documentKey = createHash('sha256')
    .update(
      [
        print(anonymous),
        ...Object.values(fragments)
          .map((f) => print(f))
          .sort(),
      ].join('\n'),
    )
    .digest('base64url');
  return { documentKey, fragments, types, prefixes: new LRUCache({ max: 256 }) };
}
