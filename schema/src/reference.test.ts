import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode, httpStatusFor } from '@memegraph/service-kit';
import { SUPERGRAPH_PATH } from './compose';
import { REFERENCE_PATH, referenceMarkdown, renderReference } from './reference';

const supergraph = readFileSync(SUPERGRAPH_PATH, 'utf8');
const rowOf = (markdown: string, field: string) =>
  markdown.split('\n').find((line) => line.startsWith(`| \`${field}`)) ?? '';

describe('API reference (docs/api.md)', () => {
  it('is what `npm run schema:reference` writes from the committed supergraph', async () => {
    expect(readFileSync(REFERENCE_PATH, 'utf8')).toBe(await renderReference(supergraph));
  });

  it("says who may ask for each field and its cost, list size, cache hint and rate limit, from the supergraph's directives", () => {
    const markdown = referenceMarkdown(supergraph);
    expect(rowOf(markdown, 'generateMeme(')).toContain('sign-in; scope `memes:ai` (premium, enterprise)');
    expect(rowOf(markdown, 'generateMeme(')).toContain('cost 100');
    expect(rowOf(markdown, 'aiStatus')).toContain('scope `admin` (operators only)');
    expect(rowOf(markdown, 'search(')).toMatch(/anyone \| cost 5; list size from `first`; cache 60 s/);
    expect(rowOf(markdown, 'logIn(')).toContain('at most 10 per 1m');
    expect(rowOf(markdown, 'me`')).toContain('cache 30 s, per viewer (PRIVATE)');
    expect(rowOf(markdown, 'plans`')).toContain('list of 4 (assumed)');
    // Directives never reach the API schema a client introspects; the reference keeps them.
    expect(markdown).not.toContain('join__');
  });

  it('lists every error code with its HTTP status and what to do', () => {
    const markdown = referenceMarkdown(supergraph);
    for (const code of Object.keys(ErrorCode)) {
      const row = rowOf(markdown.slice(markdown.indexOf('## Errors')), `${code}\``);
      expect(row, code).toContain(String(httpStatusFor[code]));
      expect(row.split('|').filter((c) => c.trim()).length, code).toBe(4);
    }
  });
});
