/**
 * Meme images as SVG: a template's drawing with the captions over it, in the
 * classic white, black-outlined Impact capitals. Pure functions of their
 * input, so the same meme always renders to the same bytes (and ETag).
 */

export const CANVAS = { width: 600, height: 600 } as const;

/** Paint of one shape. Colours are `#rgb`, `#rrggbb`, `#rrggbbaa` or `none`. */
export interface Paint {
  fill?: string;
  stroke?: string;
  strokeWidth?: number;
  opacity?: number;
}

export type Shape =
  | ({ kind: 'circle'; cx: number; cy: number; r: number } & Paint)
  | ({ kind: 'ellipse'; cx: number; cy: number; rx: number; ry: number } & Paint)
  | ({ kind: 'rect'; x: number; y: number; width: number; height: number; rx?: number; rotate?: number } & Paint)
  | ({ kind: 'polygon'; points: [number, number][] } & Paint)
  | ({ kind: 'line'; x1: number; y1: number; x2: number; y2: number } & Paint)
  | ({ kind: 'path'; d: string } & Paint);

/** A template's drawing on the 600×600 canvas, stored as JSON in `templates.art`. */
export interface TemplateArt {
  /** A linear gradient; `angle` in degrees, 90 is top to bottom. */
  background: { from: string; to: string; angle?: number };
  shapes: Shape[];
}

export interface CaptionLayout {
  fontSize: number;
  lines: string[];
}

const MARGIN = 20;
const MAX_FONT = 64;
const MIN_FONT = 22;
const LINE_HEIGHT = 1.1;
/** A caption block may take at most this share of the canvas height, so top and bottom never meet. */
const MAX_BLOCK_SHARE = 0.32;
/**
 * Average advance of a capital, in ems. Impact needs about 0.6, but many
 * clients (Linux, Android) have no Impact and fall back to a bold sans-serif
 * that needs about 0.72; captions must fit there too.
 */
const CHAR_WIDTH_EM = 0.72;
const FONT_FAMILY = "Impact, Haettenschweiler, 'Arial Narrow Bold', Anton, sans-serif";

/** Characters XML 1.0 does not allow anywhere in a document (controls, lone surrogates, U+FFFE/F). */
const NOT_XML = /[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function escapeXml(text: string): string {
  return text
    .replace(NOT_XML, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const length = (text: string) => Array.from(text).length;

/**
 * Greedy word wrap to at most `maxChars` characters a line; a word longer
 * than a line is broken inside, since a meme caption has no hyphenation rules
 * worth honouring.
 */
export function wrapWords(text: string, maxChars: number): string[] {
  const limit = Math.max(1, Math.floor(maxChars));
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    let rest = Array.from(word);
    while (rest.length > limit) {
      if (line) {
        lines.push(line);
        line = '';
      }
      lines.push(rest.slice(0, limit).join(''));
      rest = rest.slice(limit);
    }
    const piece = rest.join('');
    if (!piece) continue;
    if (!line) line = piece;
    else if (length(line) + 1 + length(piece) <= limit) line = `${line} ${piece}`;
    else {
      lines.push(line);
      line = piece;
    }
  }
  if (line) lines.push(line);
  return lines;
}

const maxCharsAt = (fontSize: number) => Math.floor((CANVAS.width - 2 * MARGIN) / (fontSize * CHAR_WIDTH_EM));
const maxLinesAt = (fontSize: number) =>
  Math.max(1, Math.floor((CANVAS.height * MAX_BLOCK_SHARE) / (fontSize * LINE_HEIGHT)));

/** Normalises a caption the way it is drawn: one line of upper-case text. */
export function captionText(text: string): string {
  return text.replace(NOT_XML, '').replace(/\s+/g, ' ').trim().toUpperCase();
}

/**
 * The largest font size at which the caption fits its block, wrapped. A
 * caption too long even at the smallest size is cut with an ellipsis rather
 * than drawn over the other caption.
 */
export function layoutCaption(text: string): CaptionLayout {
  const caption = captionText(text);
  if (!caption) return { fontSize: MAX_FONT, lines: [] };
  for (let fontSize = MAX_FONT; fontSize >= MIN_FONT; fontSize -= 2) {
    const lines = wrapWords(caption, maxCharsAt(fontSize));
    if (lines.length <= maxLinesAt(fontSize)) return { fontSize, lines };
  }
  const maxChars = maxCharsAt(MIN_FONT);
  const lines = wrapWords(caption, maxChars).slice(0, maxLinesAt(MIN_FONT));
  const last = Array.from(lines[lines.length - 1] ?? '');
  lines[lines.length - 1] = `${last
    .slice(0, maxChars - 1)
    .join('')
    .trimEnd()}…`;
  return { fontSize: MIN_FONT, lines };
}

function captionSvg(text: string, position: 'top' | 'bottom'): string {
  const { fontSize, lines } = layoutCaption(text);
  if (lines.length === 0) return '';
  const step = fontSize * LINE_HEIGHT;
  // Baselines: the top block hangs from the top margin, the bottom block stands on the bottom margin.
  const firstBaseline =
    position === 'top' ? MARGIN + fontSize * 0.9 : CANVAS.height - MARGIN - fontSize * 0.1 - step * (lines.length - 1);
  const x = CANVAS.width / 2;
  const tspans = lines
    .map((line, i) => `<tspan x="${x}" y="${num(firstBaseline + i * step)}">${escapeXml(line)}</tspan>`)
    .join('');
  const outline = Math.max(2, Math.round(fontSize / 12));
  return (
    `<text class="caption ${position}" font-family="${FONT_FAMILY}" font-size="${fontSize}" font-weight="bold"` +
    ` fill="#ffffff" stroke="#000000" stroke-width="${outline}" stroke-linejoin="round" paint-order="stroke"` +
    ` text-anchor="middle">${tspans}</text>`
  );
}

const num = (n: number) => String(Math.round(n * 100) / 100);

function paintAttrs(p: Paint): string {
  const attrs: string[] = [];
  attrs.push(`fill="${p.fill ?? 'none'}"`);
  if (p.stroke)
    attrs.push(
      `stroke="${p.stroke}"`,
      `stroke-width="${num(p.strokeWidth ?? 2)}"`,
      'stroke-linecap="round"',
      'stroke-linejoin="round"',
    );
  if (p.opacity !== undefined) attrs.push(`opacity="${num(p.opacity)}"`);
  return attrs.join(' ');
}

function shapeSvg(shape: Shape): string {
  const paint = paintAttrs(shape);
  switch (shape.kind) {
    case 'circle':
      return `<circle cx="${num(shape.cx)}" cy="${num(shape.cy)}" r="${num(shape.r)}" ${paint}/>`;
    case 'ellipse':
      return `<ellipse cx="${num(shape.cx)}" cy="${num(shape.cy)}" rx="${num(shape.rx)}" ry="${num(shape.ry)}" ${paint}/>`;
    case 'rect': {
      const rotate = shape.rotate
        ? ` transform="rotate(${num(shape.rotate)} ${num(shape.x + shape.width / 2)} ${num(shape.y + shape.height / 2)})"`
        : '';
      const rx = shape.rx ? ` rx="${num(shape.rx)}"` : '';
      return `<rect x="${num(shape.x)}" y="${num(shape.y)}" width="${num(shape.width)}" height="${num(shape.height)}"${rx}${rotate} ${paint}/>`;
    }
    case 'polygon':
      return `<polygon points="${shape.points.map(([x, y]) => `${num(x)},${num(y)}`).join(' ')}" ${paint}/>`;
    case 'line':
      return `<line x1="${num(shape.x1)}" y1="${num(shape.y1)}" x2="${num(shape.x2)}" y2="${num(shape.y2)}" ${paint}/>`;
    case 'path':
      return `<path d="${shape.d}" ${paint}/>`;
  }
}

function backgroundSvg(art: TemplateArt): string {
  const angle = ((art.background.angle ?? 90) * Math.PI) / 180;
  const dx = Math.cos(angle) / 2;
  const dy = Math.sin(angle) / 2;
  const pct = (v: number) => `${num((0.5 + v) * 100)}%`;
  return (
    `<defs><linearGradient id="bg" x1="${pct(-dx)}" y1="${pct(-dy)}" x2="${pct(dx)}" y2="${pct(dy)}">` +
    `<stop offset="0" stop-color="${art.background.from}"/><stop offset="1" stop-color="${art.background.to}"/>` +
    `</linearGradient></defs><rect width="${CANVAS.width}" height="${CANVAS.height}" fill="url(#bg)"/>`
  );
}

function svgDocument(label: string, body: string): string {
  const title = escapeXml(label.replace(/\s+/g, ' ').trim());
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${CANVAS.width}" height="${CANVAS.height}"` +
    ` viewBox="0 0 ${CANVAS.width} ${CANVAS.height}" role="img" aria-label="${title}">` +
    `<title>${title}</title>${body}</svg>`
  );
}

/** The template's drawing alone. */
export function renderTemplateSvg(art: TemplateArt, name: string): string {
  return svgDocument(name, backgroundSvg(art) + `<g>${art.shapes.map(shapeSvg).join('')}</g>`);
}

/** The meme: the template's drawing with its top and bottom captions. */
export function renderMemeSvg(meme: { title: string; topText: string; bottomText: string }, art: TemplateArt): string {
  const label = [meme.title, meme.topText, meme.bottomText].filter((s) => s.trim()).join(' / ');
  return svgDocument(
    label,
    backgroundSvg(art) +
      `<g>${art.shapes.map(shapeSvg).join('')}</g>` +
      captionSvg(meme.topText, 'top') +
      captionSvg(meme.bottomText, 'bottom'),
  );
}

// ---------------------------------------------------------------------------
// Reading art from storage. Whatever the row holds, only known shapes with
// numeric coordinates and plain colours reach the output, so stored art can
// never smuggle markup or script into an image served from our origin.

const COLOUR = /^(?:#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|#[0-9a-fA-F]{8}|none)$/;
const PATH_DATA = /^[MmLlHhVvCcSsQqTtAaZz0-9.,\s-]{1,4000}$/;
const FALLBACK_ART: TemplateArt = { background: { from: '#3a3a4a', to: '#15151c', angle: 90 }, shapes: [] };

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const coord = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? Math.min(4 * CANVAS.width, Math.max(-4 * CANVAS.width, v)) : undefined;
const colour = (v: unknown): string | undefined => (typeof v === 'string' && COLOUR.test(v) ? v : undefined);

function paint(raw: Json): Paint | undefined {
  const p: Paint = {};
  const fill = colour(raw.fill);
  const stroke = colour(raw.stroke);
  if (raw.fill !== undefined && !fill) return undefined;
  if (raw.stroke !== undefined && !stroke) return undefined;
  if (fill) p.fill = fill;
  if (stroke) p.stroke = stroke;
  const width = coord(raw.strokeWidth);
  if (width !== undefined) p.strokeWidth = Math.max(0, width);
  const opacity = coord(raw.opacity);
  if (opacity !== undefined) p.opacity = Math.min(1, Math.max(0, opacity));
  return p;
}

function numbers<K extends string>(raw: Json, keys: readonly K[]): Record<K, number> | undefined {
  const out = {} as Record<K, number>;
  for (const key of keys) {
    const value = coord(raw[key]);
    if (value === undefined) return undefined;
    out[key] = value;
  }
  return out;
}

function parseShape(raw: unknown): Shape | undefined {
  if (!isObject(raw)) return undefined;
  const p = paint(raw);
  if (!p) return undefined;
  switch (raw.kind) {
    case 'circle': {
      const n = numbers(raw, ['cx', 'cy', 'r'] as const);
      return n && { kind: 'circle', ...n, ...p };
    }
    case 'ellipse': {
      const n = numbers(raw, ['cx', 'cy', 'rx', 'ry'] as const);
      return n && { kind: 'ellipse', ...n, ...p };
    }
    case 'rect': {
      const n = numbers(raw, ['x', 'y', 'width', 'height'] as const);
      if (!n) return undefined;
      const rx = coord(raw.rx);
      const rotate = coord(raw.rotate);
      return {
        kind: 'rect',
        ...n,
        ...(rx !== undefined ? { rx } : {}),
        ...(rotate !== undefined ? { rotate } : {}),
        ...p,
      };
    }
    case 'polygon': {
      if (!Array.isArray(raw.points) || raw.points.length < 3 || raw.points.length > 200) return undefined;
      const points: [number, number][] = [];
      for (const point of raw.points) {
        const x = Array.isArray(point) ? coord(point[0]) : undefined;
        const y = Array.isArray(point) ? coord(point[1]) : undefined;
        if (x === undefined || y === undefined) return undefined;
        points.push([x, y]);
      }
      return { kind: 'polygon', points, ...p };
    }
    case 'line': {
      const n = numbers(raw, ['x1', 'y1', 'x2', 'y2'] as const);
      return n && { kind: 'line', ...n, ...p };
    }
    case 'path':
      return typeof raw.d === 'string' && PATH_DATA.test(raw.d) ? { kind: 'path', d: raw.d, ...p } : undefined;
    default:
      return undefined;
  }
}

/** Reads stored art, keeping only what is safe to draw; unknown or malformed parts are dropped. */
export function parseArt(raw: unknown): TemplateArt {
  if (!isObject(raw) || !isObject(raw.background)) return FALLBACK_ART;
  const from = colour(raw.background.from);
  const to = colour(raw.background.to);
  if (!from || !to) return FALLBACK_ART;
  const angle = coord(raw.background.angle);
  const shapes = Array.isArray(raw.shapes)
    ? raw.shapes
        .slice(0, 500)
        .map(parseShape)
        .filter((s): s is Shape => !!s)
    : [];
  return { background: { from, to, ...(angle !== undefined ? { angle } : {}) }, shapes };
}
