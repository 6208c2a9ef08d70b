import { createHash } from 'node:crypto';
import type { DocumentNode, FieldNode, GraphQLSchema } from 'graphql';
import { LRUCache } from 'lru-cache';
import { withEntityIds, type EntityShape, type TaggedDocument } from '../cache/entities';
import type { OperationAnalysis } from '../operation/analyze';
import { withoutFields } from '../operation/rewrite';
import type { Plan } from './state';

/**
 * The documents the gateway plans instead of the one sent: without the
 * fields the router removed, and with entity ids added for cache tags.
 * Each is made once per document and kept, under a hash of its own, so the
 * gateway's query plan cache keeps its plan too.
 */
export class Plans {
  private readonly rewrites = new LRUCache<string, DocumentNode>({ max: 2_000 });
  private readonly tagged = new LRUCache<string, TaggedDocument>({ max: 2_000 });

  /** The sent document without `remove` (the plan as sent when nothing is removed). */
  without(sent: Plan, operationName: string | null, analysis: OperationAnalysis, remove: ReadonlySet<FieldNode>): Plan {
    if (remove.size === 0) return sent;
    const signature = analysis.guarded.map((g) => (remove.has(g.nodes[0]!) ? '1' : '0')).join('');
    const queryHash = createHash('sha256')
      .update(`${sent.queryHash}:${operationName ?? ''}:${signature}`)
      .digest('hex');
    let document = this.rewrites.get(queryHash);
    if (!document) {
      document = withoutFields(sent.document, remove);
      this.rewrites.set(queryHash, document);
    }
    return { document, queryHash };
  }

  /**
   * The plan of the operation executed with entity ids added, so the
   * response can be tagged, and where the ids the client asked for are
   * (see withEntityIds).
   */
  withIds(schema: GraphQLSchema, plan: Plan, operationName: string | null): Plan & { shape: EntityShape | undefined } {
    const queryHash = `${plan.queryHash}:ids:${operationName ?? ''}`;
    let tagged = this.tagged.get(queryHash);
    if (!tagged) {
      tagged = withEntityIds(schema, plan.document, operationName);
      this.tagged.set(queryHash, tagged);
    }
    return { document: tagged.document, queryHash, shape: tagged.shape };
  }

  clear(): void {
    this.rewrites.clear();
    this.tagged.clear();
  }
}
