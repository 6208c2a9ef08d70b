import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SUPERGRAPH_PATH, composeSupergraph } from './compose';

describe('supergraph', () => {
  it('the committed supergraph.graphql matches composition of the current subgraph schemas', () => {
    expect(readFileSync(SUPERGRAPH_PATH, 'utf8')).toBe(composeSupergraph());
  });
});
