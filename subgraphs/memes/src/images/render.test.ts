import { describe, expect, it } from 'vitest';
import { TEMPLATE_CATALOG } from '../catalog';
import {
  escapeXml,
  layoutCaption,
  parseArt,
  renderMemeSvg,
  renderTemplateSvg,
  wrapWords,
  type TemplateArt,
} from './render';

const art: TemplateArt = {
  background: { from: '#112233', to: '#445566' },
  shapes: [{ kind: 'circle', cx: 300, cy: 300, r: 100, fill: '#ff0000' }],
};

const textOf = (svg: string, position: 'top' | 'bottom') =>
  svg.match(new RegExp(`<text class="caption ${position}"[^>]*>(.*?)</text>`))?.[1] ?? null;
const tspans = (text: string | null) => [...(text ?? '').matchAll(/<tspan[^>]*>(.*?)<\/tspan>/g)].map((m) => m[1]!);

describe('renderMemeSvg', () => {
  it('escapes markup and quotes in captions and title, so nothing in them becomes an element or attribute', () => {
    const svg = renderMemeSvg(
      { title: 'x" onload="alert(1)', topText: '<script>alert("hi")</script>', bottomText: `Tom & Jerry's "best" <b>` },
      art,
    );
    expect(svg).not.toMatch(/<script/i);
    expect(svg).not.toContain('<B>');
    expect(svg).not.toContain('onload="');
    expect(tspans(textOf(svg, 'top')).join('')).toBe('&lt;SCRIPT&gt;ALERT(&quot;HI&quot;)&lt;/SCRIPT&gt;');
    expect(tspans(textOf(svg, 'bottom')).join(' ')).toBe('TOM &amp; JERRY&#39;S &quot;BEST&quot; &lt;B&gt;');
    expect(svg).toContain('aria-label="x&quot; onload=&quot;alert(1)');
  });

  it('drops characters XML does not allow', () => {
    const svg = renderMemeSvg({ title: 't', topText: 'bell\u0007 and \uD800 lone', bottomText: '' }, art);
    expect(tspans(textOf(svg, 'top')).join(' ')).toBe('BELL AND LONE');
  });

  it('draws captions in upper case, white with a black outline, in an Impact-style bold face', () => {
    const svg = renderMemeSvg({ title: 'Cat', topText: 'nobody:', bottomText: 'oops' }, art);
    const top = svg.match(/<text class="caption top"[^>]*>/)![0];
    expect(top).toContain('fill="#ffffff"');
    expect(top).toContain('stroke="#000000"');
    expect(top).toMatch(/stroke-width="[1-9]\d*"/);
    expect(top).toContain('paint-order="stroke"');
    expect(top).toContain('font-family="Impact');
    expect(top).toContain('font-weight="bold"');
    expect(tspans(textOf(svg, 'top'))).toEqual(['NOBODY:']);
    expect(tspans(textOf(svg, 'bottom'))).toEqual(['OOPS']);
  });

  it('wraps long captions onto several lines and shrinks the font to fit', () => {
    const short = layoutCaption('Nobody:');
    const long = layoutCaption(
      'When you finally find the missing semicolon after three hours of staring at the same twelve lines of code',
    );
    expect(short.lines).toEqual(['NOBODY:']);
    expect(long.lines.length).toBeGreaterThan(1);
    expect(long.fontSize).toBeLessThan(short.fontSize);
    // Every line fits the canvas width at the chosen size, even in a fallback font with capitals 0.72 em wide.
    for (const line of long.lines) expect(line.length * long.fontSize * 0.72).toBeLessThanOrEqual(600 - 40);
    expect(long.lines.join(' ')).toBe(
      'WHEN YOU FINALLY FIND THE MISSING SEMICOLON AFTER THREE HOURS OF STARING AT THE SAME TWELVE LINES OF CODE',
    );
  });

  it('breaks a word longer than a line and cuts a caption that cannot fit with an ellipsis', () => {
    expect(wrapWords('ABCDEFGHIJ KL', 4)).toEqual(['ABCD', 'EFGH', 'IJ', 'KL']);
    const huge = layoutCaption('word '.repeat(200));
    expect(huge.lines.at(-1)).toMatch(/…$/);
  });

  it('leaves out an empty caption', () => {
    const svg = renderMemeSvg({ title: 'Only top', topText: 'top', bottomText: '   ' }, art);
    expect(textOf(svg, 'bottom')).toBeNull();
  });

  it('is deterministic', () => {
    const meme = { title: 'a', topText: 'b', bottomText: 'c' };
    expect(renderMemeSvg(meme, art)).toBe(renderMemeSvg(meme, art));
  });
});

describe('parseArt', () => {
  it('keeps well-formed art and drops anything that could inject markup', () => {
    const parsed = parseArt({
      background: { from: '#000', to: '#fff', angle: 45 },
      shapes: [
        { kind: 'rect', x: 1, y: 2, width: 3, height: 4, fill: '#abcdef' },
        { kind: 'circle', cx: 1, cy: 1, r: 1, fill: 'red" onclick="x' },
        { kind: 'path', d: 'M0 0 L10 10"/><script>' },
        { kind: 'foreignObject', x: 0 },
        { kind: 'line', x1: 'NaN', y1: 0, x2: 1, y2: 1, stroke: '#000' },
      ],
    });
    expect(parsed).toEqual({
      background: { from: '#000', to: '#fff', angle: 45 },
      shapes: [{ kind: 'rect', x: 1, y: 2, width: 3, height: 4, fill: '#abcdef' }],
    });
    const svg = renderTemplateSvg(parsed, 'T');
    expect(svg).not.toContain('onclick');
    expect(svg).not.toContain('<script');
  });

  it('falls back to a plain background for art it cannot read', () => {
    expect(parseArt(null).shapes).toEqual([]);
    expect(parseArt({ background: { from: 'javascript:', to: '#fff' } }).background.from).toMatch(/^#/);
  });

  it('reads every built-in template without dropping a shape, and each looks different', () => {
    const svgs = new Set<string>();
    for (const template of TEMPLATE_CATALOG) {
      expect(parseArt(JSON.parse(JSON.stringify(template.art)))).toEqual(template.art);
      svgs.add(renderTemplateSvg(template.art, 'same name'));
    }
    expect(svgs.size).toBe(TEMPLATE_CATALOG.length);
  });
});

describe('escapeXml', () => {
  it('escapes the five XML special characters', () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
