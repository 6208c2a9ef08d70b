import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ErrorCode, HttpError, type Logger, type Tier } from '@memegraph/service-kit';

export type TrustedMode = 'off' | 'log' | 'enforce';
export const TRUSTED_MODES = ['off', 'log', 'enforce'] as const;
const STRICTNESS: Record<TrustedMode, number> = { off: 0, log: 1, enforce: 2 };

const manifestSchema = z.object({
  format: z.literal('apollo-persisted-query-manifest'),
  version: z.literal(1),
  operations: z.array(
    z.object({
      id: z.string().min(1),
      name: z.string().optional(),
      type: z.string().optional(),
      body: z.string().min(1),
    }),
  ),
});

/** One GraphQL request of an HTTP body (or a GET's parameters). */
export interface OperationRequest {
  query?: unknown;
  extensions?: { persistedQuery?: { sha256Hash?: unknown } } & Record<string, unknown>;
}

/**
 * Trusted documents: an Apollo persisted-query manifest the router loads at
 * start. `enforce` runs only operations referenced by manifest id; `log`
 * runs anything but logs what is not in the list; `off` ignores it.
 */
export class TrustedDocuments {
  private readonly byId = new Map<string, string>();
  private readonly bodies = new Set<string>();
  /** The manifest's operation names: the metrics know them by name. */
  readonly operationNames = new Set<string>();

  constructor(
    manifestPath: string | undefined,
    private readonly defaultMode: TrustedMode,
    private readonly modeByTier: Partial<Record<Tier, TrustedMode>>,
    private readonly log: Logger,
    private readonly modeByClient: Partial<Record<string, TrustedMode>> = {},
  ) {
    if (!manifestPath) {
      if ([defaultMode, ...Object.values(modeByTier), ...Object.values(modeByClient)].some((m) => m !== 'off')) {
        throw new Error(
          'Invalid configuration:\n  TRUSTED_DOCUMENTS_MANIFEST: required when a trusted documents mode is log or enforce',
        );
      }
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(manifestPath, 'utf8'));
    } catch (error) {
      throw new Error(
        `Invalid configuration:\n  TRUSTED_DOCUMENTS_MANIFEST: cannot read ${manifestPath}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    const manifest = manifestSchema.safeParse(raw);
    if (!manifest.success)
      throw new Error(
        `Invalid configuration:\n  TRUSTED_DOCUMENTS_MANIFEST: not an apollo-persisted-query-manifest v1`,
      );
    for (const op of manifest.data.operations) {
      this.byId.set(op.id, op.body);
      this.bodies.add(createHash('sha256').update(op.body).digest('hex'));
      if (op.name) this.operationNames.add(op.name);
    }
  }

  get size(): number {
    return this.byId.size;
  }

  /**
   * The tier's mode (or the default), made stricter by the client's: any
   * caller can send any `apollographql-client-name`, so naming a client may
   * tighten what runs (the gallery's own traffic, held to its manifest) but
   * never loosen it.
   */
  modeFor(tier: Tier, clientName?: string): TrustedMode {
    const byTier = this.modeByTier[tier] ?? this.defaultMode;
    const byClient = clientName === undefined ? undefined : this.modeByClient[clientName];
    return byClient !== undefined && STRICTNESS[byClient] > STRICTNESS[byTier] ? byClient : byTier;
  }

  /**
   * Resolves a manifest id to its document in place (the request then runs
   * like any other), and refuses what the viewer's mode does not allow.
   */
  apply(request: OperationRequest, tier: Tier, clientName?: string): void {
    const mode = this.modeFor(tier, clientName);
    if (mode === 'off') return;
    const id = request.extensions?.persistedQuery?.sha256Hash;
    const listed = typeof id === 'string' ? this.byId.get(id) : undefined;
    if (listed !== undefined) {
      request.query = listed;
      // The id is resolved here; APQ must not treat it as an unregistered hash.
      delete request.extensions!.persistedQuery;
      return;
    }
    if (mode === 'enforce') {
      throw new HttpError(
        400,
        ErrorCode.PERSISTED_QUERY_NOT_IN_LIST,
        'Only operations from the trusted documents list, referenced by id, may run',
      );
    }
    const known =
      typeof request.query === 'string' && this.bodies.has(createHash('sha256').update(request.query).digest('hex'));
    if (!known)
      this.log.warn(
        { tier, client: clientName, id: typeof id === 'string' ? id : undefined },
        'operation not in the trusted documents list',
      );
  }
}
