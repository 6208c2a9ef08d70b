import { badUserInput } from './errors';

/** Page sizes are bounded so one request cannot ask for the whole table. */
export const MAX_PAGE_SIZE = 100;

export function pageSize(first: number | null | undefined, fallback = 20): number {
  const size = first ?? fallback;
  if (!Number.isInteger(size) || size < 0 || size > MAX_PAGE_SIZE) {
    throw badUserInput(`first must be between 0 and ${MAX_PAGE_SIZE}`, { argumentName: 'first' });
  }
  return size;
}

/** Cursors are opaque to clients: a kind tag and a position, base64url-encoded. */
export function encodeCursor(kind: string, position: string): string {
  return Buffer.from(`${kind}:${position}`, 'utf8').toString('base64url');
}

export function decodeCursor(kind: string, cursor: string | null | undefined): string | null {
  if (cursor === null || cursor === undefined) return null;
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  const prefix = `${kind}:`;
  const position = decoded.startsWith(prefix) ? decoded.slice(prefix.length) : '';
  if (!/^\d{1,19}$/.test(position)) throw badUserInput('after is not a valid cursor', { argumentName: 'after' });
  return position;
}

/** Parses an `ID` argument holding a database id; anything else is the client's mistake. */
export function parseId(id: string, what = 'id'): string {
  if (!/^\d{1,18}$/.test(id)) throw badUserInput(`${what} is not a valid id`);
  return id;
}
