import { ErrorCode, HttpError } from '@memegraph/service-kit';
import type { OperationRequest } from './persisted/trustedDocuments';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * One entry of a batch as an operation, refused as Apollo Server would refuse
 * it (whose refusal of one entry fails the whole batch): a non-empty object,
 * `query` a string, `variables` and `extensions` objects, `operationName` a string.
 */
export function batchEntry(entry: unknown): OperationRequest {
  const refuse = (message: string) => new HttpError(400, ErrorCode.BAD_REQUEST, message);
  if (!isRecord(entry) || Object.keys(entry).length === 0)
    throw refuse('Each operation of a batch must be a JSON object with a query');
  if (entry.query !== undefined && entry.query !== null && typeof entry.query !== 'string')
    throw refuse('GraphQL queries must be strings.');
  for (const field of ['variables', 'extensions'] as const) {
    const value = entry[field];
    if (value !== undefined && value !== null && !isRecord(value))
      throw refuse(`\`${field}\` in a POST body must be an object if provided.`);
  }
  const name = entry.operationName;
  if (name !== undefined && name !== null && typeof name !== 'string')
    throw refuse('`operationName` in a POST body must be a string if provided.');
  return entry as OperationRequest;
}

/**
 * Admits each operation of a batch on its own: one refused here (its shape,
 * trusted documents, operation limits) is answered in its place with its
 * coded error, and the others still run, as Apollo's BatchHttpLink expects.
 * Returns the refusals by their index in the batch. An array that holds no
 * operation at all is refused whole.
 */
export async function admitBatch(
  batch: readonly unknown[],
  admit: (operation: OperationRequest, index: number) => Promise<unknown>,
): Promise<Map<number, HttpError>> {
  // An array with no operation in it at all is not a batch: the request itself is malformed.
  if (!batch.some(isRecord))
    throw new HttpError(400, ErrorCode.BAD_REQUEST, 'A batch must be a JSON array of operations');
  const refusals = new Map<number, HttpError>();
  for (const [index, entry] of batch.entries()) {
    try {
      await admit(batchEntry(entry), index);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      refusals.set(index, error);
    }
  }
  return refusals;
}

/** A refusal as the GraphQL answer that takes its operation's place in a batch answer. */
export const refusalAnswer = (error: HttpError) => ({
  errors: [{ message: error.message, extensions: { code: error.code, ...error.extensions } }],
});
