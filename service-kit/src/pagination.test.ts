import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, pageSize } from './pagination';

describe('cursors and page sizes', () => {
  it('round-trips an opaque cursor', () => {
    const cursor = encodeCursor('meme', '42');
    expect(cursor).not.toContain('42');
    expect(decodeCursor('meme', cursor)).toBe('42');
    expect(decodeCursor('meme', null)).toBeNull();
  });

  it('rejects cursors of another kind or garbage with BAD_USER_INPUT', () => {
    for (const bad of [encodeCursor('user', '42'), 'garbage', encodeCursor('meme', '1; DROP TABLE memes')]) {
      expect(() => decodeCursor('meme', bad)).toThrow(
        expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) }),
      );
    }
  });

  it('bounds page sizes', () => {
    expect(pageSize(undefined)).toBe(20);
    expect(pageSize(100)).toBe(100);
    expect(() => pageSize(101)).toThrow('first must be between');
    expect(() => pageSize(-1)).toThrow();
  });
});
