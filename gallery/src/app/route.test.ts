import { describe, expect, it } from 'vitest';
import { href, parseRoute } from './route';

describe('parseRoute', () => {
  it('reads every view from the fragment, and back from href', () => {
    expect(parseRoute('')).toEqual({ view: 'feed' });
    expect(parseRoute(href.feed())).toEqual({ view: 'feed' });
    expect(parseRoute(href.trending())).toEqual({ view: 'trending' });
    expect(parseRoute(href.search('cats & dogs?'))).toEqual({ view: 'search', text: 'cats & dogs?' });
    expect(parseRoute(href.tag('side quest'))).toEqual({ view: 'tag', tag: 'side quest' });
    expect(parseRoute(href.meme('42'))).toEqual({ view: 'meme', id: '42' });
    expect(parseRoute(href.account())).toEqual({ view: 'account' });
    expect(parseRoute(href.generate())).toEqual({ view: 'generate', generationId: null });
    expect(parseRoute(href.generate('17'))).toEqual({ view: 'generate', generationId: '17' });
  });

  it('anything else is not found', () => {
    expect(parseRoute('#/nope')).toEqual({ view: 'not-found' });
    expect(parseRoute('#/meme/')).toEqual({ view: 'not-found' });
  });
});
