import { describe, expect, it } from 'vitest';
import { imageSrc } from './images';

describe('imageSrc', () => {
  it('loads meme images from the page origin, signature and all', () => {
    expect(imageSrc('http://127.0.0.1:41234/images/42.svg', 'http://localhost:4000')).toBe('/images/42.svg');
    expect(imageSrc('https://memes.internal/images/60.svg?sig=abc123', 'https://memegraph.example')).toBe(
      '/images/60.svg?sig=abc123',
    );
    expect(imageSrc('/images/7.svg', 'https://memegraph.example')).toBe('/images/7.svg');
  });

  it('keeps any other URL as it is', () => {
    expect(imageSrc('https://cdn.example/art/7.svg', 'https://memegraph.example')).toBe(
      'https://cdn.example/art/7.svg',
    );
  });
});
