import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routerClient } from './support/client';
import { GENEROUS_ANONYMOUS, startStack, type Stack } from './support/stack';

let stack: Stack;

beforeAll(async () => {
  // A page of 100 costs more than an anonymous viewer may spend; this test is about SQL.
  stack = await startStack({ users: 50, memes: 300, routerEnv: { TIERS_JSON: GENEROUS_ANONYMOUS } });
});
afterAll(() => stack?.close());

const PAGE = `query($first: Int) {
  memes(first: $first) {
    edges { node { id title score author { id handle displayName tier } template { id name } } }
  }
}`;

/** SQL statements all subgraphs sent while answering one query through the router. */
async function statementsFor(first: number): Promise<number> {
  const total = () =>
    stack.dbs.users.stats.statements + stack.dbs.memes.stats.statements + stack.dbs.ai.stats.statements;
  const before = total();
  const response = await routerClient(stack.routerUrl)<{ memes: { edges: unknown[] } }>(PAGE, { first });
  expect(response.body.errors).toBeUndefined();
  expect(response.body.data!.memes.edges).toHaveLength(first);
  return total() - before;
}

describe('DataLoader batching', () => {
  it('a page of 100 memes with author and template costs as many SQL statements as a page of 10', async () => {
    const ten = await statementsFor(10);
    const hundred = await statementsFor(100);
    expect(ten).toBeGreaterThan(0);
    expect(hundred).toBe(ten);
  });
});
