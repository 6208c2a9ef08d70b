import { dictionary } from '@zxcvbn-ts/language-common';

export const MIN_PASSWORD_LENGTH = 10;
/** Long passphrases are welcome; past this the KDF would only be handed work. */
export const MAX_PASSWORD_LENGTH = 200;
/** Shorter handles are refused only as the whole password (which the length rule already does): three letters turn up in too many good passphrases. */
const MIN_HANDLE_TO_SEARCH = 4;

/**
 * The common-password list zxcvbn-ts ships (tens of thousands of leaked
 * passwords, lowercase), kept to those long enough to pass the length rule:
 * the rest can never be reached.
 */
const COMMON = new Set(dictionary['passwords-common'].filter((password) => password.length >= MIN_PASSWORD_LENGTH));

/**
 * Why a password may not be used, or null when it may: at least 10
 * characters, without the handle in it (case-insensitively), and not on the
 * common-password list (case-insensitively, spaces ignored: the list has
 * none, and "pass word 123" is tried as soon as "password123").
 */
export function passwordProblem(password: string, handle: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `password must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH) return `password must be at most ${MAX_PASSWORD_LENGTH} characters`;
  const folded = password.toLowerCase();
  const name = handle.toLowerCase();
  if (folded === name || (name.length >= MIN_HANDLE_TO_SEARCH && folded.includes(name)))
    return 'password must not contain your handle';
  if (COMMON.has(folded) || COMMON.has(folded.replace(/\s+/g, ''))) {
    return 'password is too common: it is on a list of passwords that are tried first';
  }
  return null;
}
