import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RELEASED_API_PATH, apiSchemaSdl, compareWithRelease, readAcknowledged } from './breaking';
import { SUPERGRAPH_PATH } from './compose';

const released = readFileSync(RELEASED_API_PATH, 'utf8');
const current = apiSchemaSdl(readFileSync(SUPERGRAPH_PATH, 'utf8'));

/** `sdl` with the body of `type <name>` passed through `edit`. */
function editType(sdl: string, name: string, edit: (body: string) => string): string {
  const start = sdl.search(new RegExp(`^type ${name}\\b[^{]*\\{$`, 'm'));
  if (start < 0) throw new Error(`no type ${name}`);
  const end = sdl.indexOf('\n}\n', start);
  return sdl.slice(0, start) + edit(sdl.slice(start, end)) + sdl.slice(end);
}

describe('compatibility with the last release', () => {
  it('the committed supergraph breaks no client of the last release without an acknowledgement', () => {
    const report = compareWithRelease(released, current, readAcknowledged());
    expect(report.unacknowledged).toEqual([]);
    expect(report.stale).toEqual([]);
  });

  it('the API schema hides federation machinery and @inaccessible internals', () => {
    expect(current).toContain('type Meme');
    expect(current).not.toMatch(/_entities|_service|join__|link__/);
  });

  it('reports a removed field and a changed type as breaking until acknowledged', () => {
    const changed = editType(released, 'Meme', (body) =>
      body.replace(/^ {2}topText: String!$/m, '').replace(/^ {2}score: Int!$/m, '  score: String!'),
    );
    expect(changed).not.toBe(released);
    const report = compareWithRelease(released, changed, []);
    expect(report.unacknowledged.map((c) => c.type).sort()).toEqual(['FIELD_CHANGED_KIND', 'FIELD_REMOVED']);
    expect(report.unacknowledged.map((c) => c.description)).toContain('Meme.topText was removed.');

    const acknowledged = report.breaking.map((c) => ({
      description: c.description,
      reason: 'announced in the changelog',
    }));
    expect(compareWithRelease(released, changed, acknowledged).unacknowledged).toEqual([]);
  });

  it('an added field breaks nothing; an acknowledgement that matches nothing is reported as stale', () => {
    const added = editType(released, 'Meme', (body) => `${body}\n  caption: String`);
    expect(added).not.toBe(released);
    const report = compareWithRelease(released, added, [{ description: 'Meme.title was removed.', reason: 'old' }]);
    expect(report.breaking).toEqual([]);
    expect(report.stale.map((s) => s.description)).toEqual(['Meme.title was removed.']);
  });
});
