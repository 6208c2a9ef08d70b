import { createHash } from 'node:crypto';
import { codedError, ErrorCode, type Queryable } from '@memegraph/service-kit';

export interface LoginThrottleSettings {
  /** Failures a handle may have before each further failure is followed by a wait. */
  failuresPerHandle: number;
  /** The same for a client address: higher, as many people may share one. */
  failuresPerAddress: number;
  /** The longest wait, however many failures. */
  maxBackoffSeconds: number;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleSettings = {
  failuresPerHandle: 5,
  failuresPerAddress: 20,
  maxBackoffSeconds: 900,
};

/** The first wait, doubled at each failure after it. */
const BASE_BACKOFF_SECONDS = 2;
/** Failures older than this are forgotten: the count starts again. */
const FORGET_AFTER = '1 day';

interface Subject {
  key: string;
  allowance: number;
}

/**
 * Log-in throttling, in PostgreSQL so every replica of the users subgraph
 * counts the same failures. Each handle and each client address may fail a
 * few times freely; after that each failure is followed by a wait (2 s,
 * then doubling, up to `maxBackoffSeconds`), during which log-ins for it
 * are refused before any password is checked. A handle is counted whether or
 * not it exists, so the answers tell nothing about which handles exist. A
 * success clears the handle's failures, not the address's.
 *
 * Attempts for one handle take turns in this process (`serialize`), so a
 * burst of guesses sent at once is counted as it goes, not after it: with N
 * replicas at most N guesses for a handle are ever in flight.
 */
export class LoginThrottle {
  private readonly turns = new Map<string, Promise<unknown>>();

  constructor(
    private readonly db: Queryable,
    private readonly settings: LoginThrottleSettings,
  ) {}

  /**
   * Runs `check` (the password check of one log-in for `handle` from
   * `address`, null when unknown) unless the handle or the address must
   * wait, in which case RATE_LIMIT_EXCEEDED is thrown without checking.
   * `check` answers undefined for a failure, which is counted.
   */
  async attempt<T>(
    handle: string,
    address: string | null,
    check: () => Promise<T | undefined>,
  ): Promise<T | undefined> {
    const handleSubject: Subject = {
      key: keyOf(`handle:${handle.toLowerCase()}`),
      allowance: this.settings.failuresPerHandle,
    };
    const subjects = [
      handleSubject,
      ...(address ? [{ key: keyOf(`address:${address}`), allowance: this.settings.failuresPerAddress }] : []),
    ];
    return this.serialize(handleSubject.key, async () => {
      const wait = await this.waitFor(subjects);
      if (wait > 0) {
        throw codedError(ErrorCode.RATE_LIMIT_EXCEEDED, `Too many failed log-ins: try again in ${wait} s`, {
          retryAfter: wait,
        });
      }
      const result = await check();
      if (result === undefined) await this.recordFailure(subjects.map((s) => s.key));
      else await this.db.query('DELETE FROM login_failures WHERE key = $1', [handleSubject.key]);
      return result;
    });
  }

  /** Seconds until every subject may try again; 0 when none must wait. */
  private async waitFor(subjects: Subject[]): Promise<number> {
    const rows = await this.db.query<{ key: string; failures: number; since_ms: string }>(
      `SELECT key, failures, (EXTRACT(EPOCH FROM now() - last_failure_at) * 1000)::bigint AS since_ms
       FROM login_failures WHERE key = ANY($1) AND last_failure_at > now() - $2::interval`,
      [subjects.map((s) => s.key), FORGET_AFTER],
    );
    let wait = 0;
    for (const row of rows) {
      const allowance = subjects.find((s) => s.key === row.key)!.allowance;
      const remainingMs = this.backoffMs(row.failures, allowance) - Number(row.since_ms);
      if (remainingMs > 0) wait = Math.max(wait, Math.ceil(remainingMs / 1000));
    }
    return wait;
  }

  private backoffMs(failures: number, allowance: number): number {
    if (failures <= allowance) return 0;
    return Math.min(BASE_BACKOFF_SECONDS * 2 ** (failures - allowance - 1), this.settings.maxBackoffSeconds) * 1000;
  }

  private async recordFailure(keys: string[]): Promise<void> {
    await this.db.query(
      `WITH forgotten AS (
         DELETE FROM login_failures WHERE key IN (
           SELECT key FROM login_failures WHERE last_failure_at < now() - $2::interval LIMIT 100)
       )
       INSERT INTO login_failures (key, failures, last_failure_at) SELECT unnest($1::text[]), 1, now()
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN login_failures.last_failure_at < now() - $2::interval THEN 1 ELSE login_failures.failures + 1 END,
         last_failure_at = now()`,
      [keys, FORGET_AFTER],
    );
  }

  /** Runs `task` after every earlier task of `key` in this process has ended. */
  private serialize<T>(key: string, task: () => Promise<T>): Promise<T> {
    const before = this.turns.get(key) ?? Promise.resolve();
    const run = before.then(task, task);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.turns.set(key, settled);
    // The last in line removes the entry, so idle handles hold no memory.
    void settled.then(() => {
      if (this.turns.get(key) === settled) this.turns.delete(key);
    });
    return run;
  }
}

const keyOf = (subject: string) => createHash('sha256').update(subject).digest('hex');
