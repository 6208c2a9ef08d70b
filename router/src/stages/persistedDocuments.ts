import type { KeyValueCache } from '@apollo/utils.keyvaluecache';
import { ErrorCode, HttpError, assertJsonDepth } from '@memegraph/service-kit';
import { admitBatch } from '../batch';
import type { OperationRequest, TrustedDocuments } from '../persisted/trustedDocuments';
import type { Stage } from './runner';
import type { RequestState, SentOperation } from './state';

/** The operations of a POST body (several for a batch). */
function operationsOf(body: unknown): OperationRequest[] {
  const operations = Array.isArray(body) ? body : [body];
  return operations.filter((op): op is OperationRequest => !!op && typeof op === 'object');
}

const parseJsonOrUndefined = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

const isRecord = (value: unknown): value is Record<string, unknown> =>
  !!value && typeof value === 'object' && !Array.isArray(value);

/**
 * A single operation's name and variables as Apollo Server will read them,
 * or null when Apollo would refuse them (or read them some other way): such
 * a request is Apollo's to answer.
 */
function sentParts(
  method: string | undefined,
  body: unknown,
  params: URLSearchParams | undefined,
): Omit<SentOperation, 'text'> | null {
  if (method === 'POST') {
    if (!isRecord(body)) return null;
    const { query, operationName, variables, extensions } = body;
    if (query !== undefined && query !== null && typeof query !== 'string') return null;
    if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') return null;
    if (variables !== undefined && variables !== null && !isRecord(variables)) return null;
    if (extensions !== undefined && extensions !== null && !isRecord(extensions)) return null;
    return { operationName: operationName ?? undefined, variables: variables ?? undefined };
  }
  if (!params) return null;
  for (const name of ['query', 'operationName', 'variables', 'extensions'])
    if (params.getAll(name).length > 1) return null;
  const variables = params.has('variables') ? parseJsonOrUndefined(params.get('variables')!) : undefined;
  if (params.has('variables') && !isRecord(variables)) return null;
  return {
    operationName: params.get('operationName') ?? undefined,
    variables: variables as Record<string, unknown> | undefined,
  };
}

/** An APQ hash the store does not hold, answered as Apollo Server answers it (Apollo Client then sends the text). */
const persistedQueryNotFound = () => new HttpError(200, ErrorCode.PERSISTED_QUERY_NOT_FOUND, 'PersistedQueryNotFound');

/** A GET's parameters as an operation, and back: trusted documents may rewrite it. */
function getOperation(params: URLSearchParams): OperationRequest {
  let extensions: OperationRequest['extensions'];
  try {
    extensions = params.has('extensions')
      ? (JSON.parse(params.get('extensions')!) as OperationRequest['extensions'])
      : undefined;
  } catch {
    throw new HttpError(400, ErrorCode.BAD_REQUEST, 'The extensions parameter is not valid JSON');
  }
  assertJsonDepth(extensions, 'The extensions parameter');
  // Apollo parses the variables itself (and reports bad JSON); their depth is checked first, as a POST body's is.
  const variables = params.get('variables');
  if (variables) assertJsonDepth(parseJsonOrUndefined(variables), 'The variables parameter');
  return { query: params.get('query') ?? undefined, extensions };
}

/**
 * Persisted documents, before Apollo: each operation's text (sent, listed
 * under a trusted document id, or an APQ hash's, from the store Apollo
 * keeps as "apq:<hash>"), refused when the trusted documents refuse it; each
 * operation of a batch on its own. Refusals are kept, not thrown: the
 * request limits count a refused request before it is answered. The texts
 * go on to the operation limits, and a single operation's, with its name
 * and variables as Apollo will read them, to its fingerprint.
 */
export function createPersistedDocuments(deps: {
  trusted: TrustedDocuments;
  apqCache: KeyValueCache<string>;
}): Stage<RequestState> {
  const { trusted, apqCache } = deps;
  const clientNameOf = (req: RequestState['req']) => {
    const named = req.headers['apollographql-client-name'];
    return typeof named === 'string' ? named : undefined;
  };
  /**
   * The most common request, one POST operation sent with its text: admitted without waiting for anything,
   * as the general path below would admit it.
   */
  const admitText = (state: RequestState, operation: OperationRequest & { query: string }): void => {
    try {
      trusted.apply(operation, state.viewer.tier, clientNameOf(state.req));
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      state.refused = error;
      return;
    }
    const text = operation.query;
    if (text) state.texts.set(0, text);
    // A hash sent with a text of its own is Apollo's to check, so its text is not taken as known.
    if (operation.extensions?.persistedQuery?.sha256Hash !== undefined) return;
    const parts = sentParts('POST', operation, undefined);
    if (parts) state.sent = { text, ...parts };
  };
  return {
    name: 'persistedDocuments',
    run(state) {
      const { req, body } = state;
      if (req.method === 'POST' && isRecord(body) && typeof body.query === 'string')
        return admitText(state, body as unknown as OperationRequest & { query: string });
      return admitAny(state);
    },
  };

  /** Anything else: a GET, a batch, a hash alone (APQ), a body Apollo is to refuse. */
  async function admitAny(state: RequestState): Promise<void> {
    const { req, body } = state;
    const tier = state.viewer.tier;
    const clientName = clientNameOf(req);
    /**
     * One operation: returns the text it runs when that is known before Apollo. A hash sent with a
     * text of its own is Apollo's to check, so its text is not taken as known (but is limited).
     */
    const admit = async (operation: OperationRequest, index: number): Promise<string | undefined> => {
      trusted.apply(operation, tier, clientName);
      const hash = operation.extensions?.persistedQuery?.sha256Hash;
      const given = typeof operation.query === 'string' ? operation.query : undefined;
      const text = given ?? (typeof hash === 'string' ? await apqCache.get(`apq:${hash}`) : undefined);
      // A hash alone that is not known here is answered here, as Apollo answers it: were it left to Apollo,
      // which reads the store again, a text registered in between would run without the operation limits.
      // (A text, once stored under its hash, never changes: the hash is its own.)
      if (given === undefined && typeof hash === 'string' && text === undefined) throw persistedQueryNotFound();
      if (text) state.texts.set(index, text);
      return given !== undefined && hash !== undefined ? undefined : text;
    };
    let single: { text: string; params?: URLSearchParams } | undefined;
    try {
      if (req.method === 'GET') {
        const params = new URL(req.url ?? '/', 'http://localhost').searchParams;
        const operation = getOperation(params);
        const text = await admit(operation, 0);
        if (typeof operation.query === 'string') params.set('query', operation.query);
        if (operation.extensions) params.set('extensions', JSON.stringify(operation.extensions));
        state.search = `?${params.toString()}`;
        if (text !== undefined) single = { text, params };
      } else if (Array.isArray(body)) {
        // Each operation of a batch is admitted on its own; one refused is answered in its place.
        state.refusals = await admitBatch(body, admit);
      } else {
        for (const operation of operationsOf(body)) {
          const text = await admit(operation, 0);
          if (text !== undefined) single = { text };
        }
      }
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      state.refused = error;
      return;
    }
    const parts = single && sentParts(req.method, body, single.params);
    if (single && parts) state.sent = { text: single.text, ...parts };
  }
}
