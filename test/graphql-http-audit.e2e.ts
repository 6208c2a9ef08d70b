import { auditServer, type AuditFail, type AuditResult } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './support/stack';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ users: 2, memes: 5 });
});
afterAll(() => stack?.close());

const failed = (result: AuditResult): result is AuditFail => result.status !== 'ok';

/**
 * The GraphQL-over-HTTP spec's own conformance audit, as graphql-http runs
 * it against a server: every MUST passes and every SHOULD is followed
 * ("warn" is a SHOULD not followed, "error" a MUST broken; "notice" is a MAY).
 */
describe('GraphQL over HTTP audit of the router', () => {
  it('passes with no MUST failure and no SHOULD warning', async () => {
    const results = await auditServer({ url: `${stack.routerUrl}/graphql` });
    const problems = await Promise.all(
      results
        .filter(failed)
        .filter((result) => result.status !== 'notice')
        .map(async (result) => {
          const body = await result.response.text().catch(() => '');
          return `${result.status} ${result.id} ${result.name}: ${result.reason} (HTTP ${result.response.status}, ${result.response.headers.get('content-type')}: ${body.slice(0, 200)})`;
        }),
    );
    expect(results.length).toBeGreaterThan(50);
    expect(problems, problems.join('\n')).toEqual([]);
  });
});
