import {
  Kind,
  Lexer,
  Source,
  TokenKind,
  parse,
  type DocumentNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { LRUCache } from 'lru-cache';
import { ErrorCode, HttpError, type TierLimits } from '@memegraph/service-kit';

/** What a document asks for, measured once per distinct document text. */
export interface DocumentMetrics {
  tokens: number;
  depth: number;
  aliases: number;
  rootFields: number;
  /** Depth inside introspection fields, which schema tools need deep. */
  introspectionDepth: number;
  /** Selections with every fragment spread out where it is used; counting stops past MAX_SELECTIONS. */
  selections: number;
  /** The document did not parse; GraphQL reports that itself. */
  unparsable: boolean;
}

/** Introspection queries from tools nest `ofType` about a dozen levels. */
const MAX_INTROSPECTION_DEPTH = 16;
/**
 * The most selections an operation may make with its fragments spread out
 * (each spread counted wherever it is used): no tier allows anything near
 * it, and measuring stops past it.
 */
const MAX_SELECTIONS = 100_000;

/** The measures of a document too long, or too broken, to measure. */
const UNMEASURED = { depth: 0, aliases: 0, rootFields: 0, introspectionDepth: 0, selections: 0 };

/** Counts tokens with graphql-js' own lexer, stopping as soon as the cap is passed. */
function countTokens(text: string, cap: number): number {
  const lexer = new Lexer(new Source(text));
  let count = 0;
  try {
    while (lexer.advance().kind !== TokenKind.EOF) if (++count > cap) return count;
  } catch {
    // A lexing error is a parse error: GraphQL will report it.
  }
  return count;
}

function measureDocument(document: DocumentNode): Omit<DocumentMetrics, 'tokens' | 'unparsable'> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const metrics = { ...UNMEASURED };

  // Walks the selection tree as execution would see it, fragments expanded.
  // `active` holds the fragments on the current path, so a cycle ends the walk.
  const walk = (set: SelectionSetNode, depth: number, introspection: number, active: Set<string>, root: boolean) => {
    for (const selection of set.selections) {
      if (++metrics.selections > MAX_SELECTIONS) return;
      if (selection.kind === Kind.FIELD) {
        if (root) metrics.rootFields++;
        if (selection.alias) metrics.aliases++;
        const inIntrospection = introspection > 0 || selection.name.value.startsWith('__');
        if (inIntrospection) metrics.introspectionDepth = Math.max(metrics.introspectionDepth, introspection + 1);
        else metrics.depth = Math.max(metrics.depth, depth + 1);
        if (selection.selectionSet) {
          walk(
            selection.selectionSet,
            inIntrospection ? depth : depth + 1,
            inIntrospection ? introspection + 1 : 0,
            active,
            false,
          );
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet, depth, introspection, active, root);
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (!fragment || active.has(name)) continue;
        active.add(name);
        walk(fragment.selectionSet, depth, introspection, active, root);
        active.delete(name);
      }
    }
  };
  for (const d of document.definitions) {
    if (d.kind === Kind.OPERATION_DEFINITION && metrics.selections <= MAX_SELECTIONS)
      walk(d.selectionSet, 0, 0, new Set(), true);
  }
  return metrics;
}

/**
 * Operation limits, checked on the raw document before Apollo parses or
 * validates it (graphql-js validation can be slow on hostile documents).
 */
export class OperationLimits {
  /** Keyed by the text itself (hashing it cost more than the lookup), bounded by total length. */
  private readonly cache = new LRUCache<string, DocumentMetrics>({
    max: 5_000,
    maxSize: 8 * 1024 * 1024,
    sizeCalculation: (_, text) => text.length + 1,
  });

  constructor(private readonly tokenCap: number) {}

  measure(text: string): DocumentMetrics {
    const cached = this.cache.get(text);
    if (cached) return cached;
    const tokens = countTokens(text, this.tokenCap);
    let metrics: DocumentMetrics;
    if (tokens > this.tokenCap) {
      metrics = { tokens, ...UNMEASURED, unparsable: false };
    } else {
      try {
        metrics = {
          tokens,
          unparsable: false,
          ...measureDocument(parse(text, { noLocation: true, maxTokens: this.tokenCap })),
        };
      } catch {
        metrics = { tokens, ...UNMEASURED, unparsable: true };
      }
    }
    this.cache.set(text, metrics);
    return metrics;
  }

  /** Throws a coded 400/413 when `text` is over any of the tier's limits. */
  check(text: string, limits: TierLimits): void {
    const bytes = Buffer.byteLength(text);
    if (bytes > limits.maxDocumentBytes) {
      throw new HttpError(
        413,
        ErrorCode.DOCUMENT_TOO_LARGE,
        `The document is ${bytes} bytes; the limit is ${limits.maxDocumentBytes}`,
      );
    }
    const m = this.measure(text);
    if (m.tokens > limits.maxTokens) {
      throw new HttpError(400, ErrorCode.MAX_TOKENS_EXCEEDED, `The document has more than ${limits.maxTokens} tokens`);
    }
    if (m.unparsable) return;
    // A few fragments spread into each other many times: a small document that expands past any limit.
    if (m.selections > MAX_SELECTIONS) {
      throw new HttpError(
        400,
        ErrorCode.MAX_TOKENS_EXCEEDED,
        `With its fragments spread out, the operation makes more than ${MAX_SELECTIONS} selections`,
      );
    }
    if (m.depth > limits.maxDepth || m.introspectionDepth > MAX_INTROSPECTION_DEPTH) {
      throw new HttpError(
        400,
        ErrorCode.MAX_DEPTH_EXCEEDED,
        `The operation nests deeper than ${limits.maxDepth} levels`,
      );
    }
    if (m.aliases > limits.maxAliases) {
      throw new HttpError(
        400,
        ErrorCode.MAX_ALIASES_EXCEEDED,
        `The operation uses ${m.aliases} aliases; the limit is ${limits.maxAliases}`,
      );
    }
    if (m.rootFields > limits.maxRootFields) {
      throw new HttpError(
        400,
        ErrorCode.MAX_ROOT_FIELDS_EXCEEDED,
        `The operation selects ${m.rootFields} root fields; the limit is ${limits.maxRootFields}`,
      );
    }
  }
}
