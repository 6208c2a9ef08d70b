import { createHmac, timingSafeEqual } from 'node:crypto';
import type { MemeOrigin } from '../rows';

/**
 * Image URLs. An AI meme's URL carries an HMAC of its id: only viewers who
 * may see the meme are ever handed the URL, so the URL itself is the
 * permission, and it stays cacheable by any CDN.
 */
export interface ImageUrls {
  meme(meme: { id: string; origin: MemeOrigin }): string;
  template(id: string): string;
}

// A distinct message prefix keeps these signatures from ever being valid for
// anything else signed with the same secret (the viewer header).
export function imageSignature(id: string, secret: string): string {
  return createHmac('sha256', secret).update(`memes-image:${id}`).digest('base64url');
}

export function verifyImageSignature(id: string, signature: string | null, secret: string): boolean {
  if (!signature) return false;
  const expected = Buffer.from(imageSignature(id, secret));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** `base` is asked for on every call: a server on port 0 only learns its origin when it listens. */
export function createImageUrls(base: () => string, secret: string): ImageUrls {
  return {
    meme: ({ id, origin }) =>
      origin === 'AI' ? `${base()}/images/${id}.svg?sig=${imageSignature(id, secret)}` : `${base()}/images/${id}.svg`,
    template: (id) => `${base()}/images/templates/${id}.svg`,
  };
}
