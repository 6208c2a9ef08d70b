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
  /** The document did not parse; GraphQL reports that itself. */
  unparsable: boolean;
}

/** Introspection queries from tools nest `ofType` about a dozen levels. */
const MAX_INTROSPECTION_DEPTH = 16;
/** Measuring stops after this many selections: no tier allows anything near it. */
const MAX_VISITS = 100_000;

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
  let visits = 0;
  const metrics = { depth: 0, aliases: 0, rootFields: 0, introspectionDepth: 0 };

  // Walks the selection tree as execution would see it, fragments expanded.
  // `active` holds the fragments on the current path, so a cycle ends the walk.
  const walk = (set: SelectionSetNode, depth: number, introspection: number, active: Set<string>, root: boolean) => {
    for (const selection of set.selections) {
      if (++visits > MAX_VISITS) {
        metrics.depth = metrics.aliases = metrics.rootFields = Number.MAX_SAFE_INTEGER;
        return;
      }
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
    if (d.kind === Kind.OPERATION_DEFINITION) walk(d.selectionSet, 0, 0, new Set(), true);
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
      metrics = { tokens, depth: 0, aliases: 0, rootFields: 0, introspectionDepth: 0, unparsable: false };
    } else {
      try {
        metrics = {
          tokens,
          unparsable: false,
          ...measureDocument(parse(text, { noLocation: true, maxTokens: this.tokenCap })),
        };
      } catch {
        metrics = { tokens, depth: 0, aliases: 0, rootFields: 0, introspectionDepth: 0, unparsable: true };
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
