import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode, httpStatusFor } from '@memegraph/service-kit';
import { SUPERGRAPH_PATH } from './compose';
import { REFERENCE_PATH, fieldDirectives, referenceMarkdown, renderReference } from './reference';

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

/** What a field's description must say for each of its directives, so introspection and the explorer's docs show it. */
function missingStatements(description: string, directives: Map<string, Record<string, unknown>>): string[] {
  const missing: string[] = [];
  const says = (text: string) => description.replace(/\s+/g, ' ').toLowerCase().includes(text.toLowerCase());
  if (directives.has('authenticated') && !says('needs sign-in')) missing.push('needs sign-in');
  for (const scopes of (directives.get('requiresScopes')?.scopes as string[][] | undefined) ?? [])
    for (const scope of scopes) if (!says(`\`${scope}\``)) missing.push(`\`${scope}\``);
  const rate = directives.get('rateLimit');
  if (rate) {
    const unit = { s: 'second', m: 'minute', h: 'hour', d: 'day' }[String(rate.window).slice(-1)];
    const text = `at most ${String(rate.max)} calls per ${String(rate.window).slice(0, -1) === '1' ? '' : `${String(rate.window).slice(0, -1)} `}${unit} per viewer`;
    if (!says(text)) missing.push(text);
  }
  const cost = directives.get('cost');
  if (cost) {
    const text = cost.weight === 0 ? 'costs nothing' : `costs ${String(cost.weight)} points`;
    if (!says(text)) missing.push(text);
  }
  const listSize = directives.get('listSize');
  if (listSize) {
    const slicing = listSize.slicingArguments as string[] | undefined;
    const text = slicing?.length
      ? `counted as \`${slicing[0]}\` items in the cost estimate`
      : `counted as ${String(listSize.assumedSize)} items in the cost estimate`;
    if (!says(text)) missing.push(text);
  }
  return missing;
}

describe('schema descriptions', () => {
  it("state each guarded or limited field's entitlement, cost, list size and rate limit", () => {
    const gaps: string[] = [];
    for (const { coordinate, description, directives } of fieldDirectives(supergraph)) {
      const missing = missingStatements(description, directives);
      if (missing.length > 0) gaps.push(`${coordinate}: ${missing.join(', ')}`);
    }
    expect(gaps).toEqual([]);
  });
});
