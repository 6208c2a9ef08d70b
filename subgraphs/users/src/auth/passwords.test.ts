import { describe, expect, it } from 'vitest';
import { DUMMY_HASH, hashPassword, verifyPassword } from './passwords';

/** Everything but the salt and the key: what decides how much work a check is. */
const work = (stored: string) => {
  const [scheme, n, r, p, , hash] = stored.split('$');
  return { scheme, n, r, p, keyBytes: Buffer.from(hash!, 'base64url').length };
};

describe('password hashes', () => {
  it('a log-in for an unknown handle checks the dummy hash with the same work as a real one', async () => {
    const real = await hashPassword('velvet otter tuesday');
    expect(work(DUMMY_HASH)).toEqual(work(real));
    await expect(verifyPassword('velvet otter tuesday', DUMMY_HASH)).resolves.toBe(false);
    await expect(verifyPassword('velvet otter tuesday', real)).resolves.toBe(true);
  });
});
