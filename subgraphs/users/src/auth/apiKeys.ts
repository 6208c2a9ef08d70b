import { createHash, randomBytes } from 'node:crypto';

const KEY_PREFIX = 'mg_';

/** A new key: 192 random bits, so a plain SHA-256 is a safe way to store it. */
export function generateApiKey(): { secret: string; prefix: string; hash: string } {
  const secret = KEY_PREFIX + randomBytes(24).toString('base64url');
  return { secret, prefix: secret.slice(0, KEY_PREFIX.length + 8), hash: hashApiKey(secret) };
}

export function hashApiKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
