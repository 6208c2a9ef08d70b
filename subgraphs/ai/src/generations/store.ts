import type { Queryable } from '@memegraph/service-kit';
import type { GeneratedMeme } from '../providers/provider';

export type GenerationStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export interface GenerationRow {
  id: string;
  user_id: string;
  prompt: string;
  template_id: string | null;
  status: GenerationStatus;
  provider: string;
  meme_id: string | null;
  error_code: string | null;
  error_message: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  priority: number;
  cached: boolean;
  /** What the provider made, kept until the catalog has it (a retry hands the same meme over). */
  output: GeneratedMeme | null;
}

const COLUMNS =
  'id, user_id, prompt, template_id, status, provider, meme_id, error_code, error_message, created_at, started_at, finished_at, priority, cached, output';

/** The generations table: the AI subgraph's own record of every request. */
export function createGenerationStore(db: Queryable) {
  return {
    async create(input: { userId: string; prompt: string; templateId: string; provider: string; priority: number }) {
      const [row] = await db.query<GenerationRow>(
        `INSERT INTO generations (user_id, prompt, template_id, status, provider, priority)
         VALUES ($1, $2, $3, 'QUEUED', $4, $5) RETURNING ${COLUMNS}`,
        [input.userId, input.prompt, input.templateId, input.provider, input.priority],
      );
      return row!;
    },
    /** A generation answered from the result cache: finished before it was ever queued. */
    async createFinished(input: {
      userId: string;
      prompt: string;
      templateId: string;
      provider: string;
      memeId: string;
    }) {
      const [row] = await db.query<GenerationRow>(
        `INSERT INTO generations (user_id, prompt, template_id, status, provider, meme_id, cached, started_at, finished_at)
         VALUES ($1, $2, $3, 'SUCCEEDED', $4, $5, true, now(), now()) RETURNING ${COLUMNS}`,
        [input.userId, input.prompt, input.templateId, input.provider, input.memeId],
      );
      return row!;
    },
    async remove(id: string) {
      await db.query('DELETE FROM generations WHERE id = $1', [id]);
    },
    /**
     * 1-based place in the waiting line: ahead are higher priorities, then older jobs of the same.
     * A generation read as QUEUED may have been taken by a worker since; it is then first in line,
     * behind only what is still waiting ahead of it, so its status and place never disagree.
     */
    async queuePositions(ids: readonly string[]) {
      const rows = await db.query<{ id: string; position: string }>(
        `SELECT g.id, 1 + (SELECT count(*) FROM generations w
                           WHERE w.status = 'QUEUED' AND (w.priority < g.priority OR (w.priority = g.priority AND w.id < g.id))) AS position
         FROM generations g WHERE g.id = ANY($1::bigint[])`,
        [ids],
      );
      return new Map(rows.map((r) => [r.id, Number(r.position)]));
    },
    async statusCounts() {
      const rows = await db.query<{ status: GenerationStatus; count: string }>(
        'SELECT status, count(*) AS count FROM generations GROUP BY status',
      );
      return Object.fromEntries(rows.map((r) => [r.status, Number(r.count)])) as Partial<
        Record<GenerationStatus, number>
      >;
    },
    /** Mean seconds waited and run by generations that finished in the last `minutes`. */
    async recentTimes(minutes: number) {
      const [row] = await db.query<{ wait: number | null; run: number | null; finished: string }>(
        `SELECT avg(extract(epoch FROM started_at - created_at))::float AS wait,
                avg(extract(epoch FROM finished_at - started_at))::float AS run,
                count(*) AS finished
         FROM generations WHERE finished_at > now() - make_interval(mins => $1) AND NOT cached`,
        [minutes],
      );
      return { meanWaitSeconds: row?.wait ?? 0, meanRunSeconds: row?.run ?? 0, finished: Number(row?.finished ?? 0) };
    },
    async byIds(ids: readonly string[]) {
      return db.query<GenerationRow>(`SELECT ${COLUMNS} FROM generations WHERE id = ANY($1::bigint[])`, [ids]);
    },
    /**
     * Unfinished generations (QUEUED or RUNNING) after `afterId`, oldest first, `limit` at a time:
     * what the queue must hold, for a reconciler to compare with what it does hold.
     */
    async unfinished(afterId: string, limit: number) {
      return db.query<Pick<GenerationRow, 'id' | 'user_id' | 'prompt' | 'template_id' | 'priority'>>(
        `SELECT id, user_id, prompt, template_id, priority FROM generations
         WHERE status IN ('QUEUED', 'RUNNING') AND id > $1 ORDER BY id LIMIT $2`,
        [afterId, limit],
      );
    },
    async saveOutput(id: string, output: GeneratedMeme) {
      await db.query(`UPDATE generations SET output = $2::jsonb WHERE id = $1 AND status IN ('QUEUED', 'RUNNING')`, [
        id,
        JSON.stringify(output),
      ]);
    },
    /** True when the generation was unfinished and is RUNNING now. */
    async markRunning(id: string, templateId: string) {
      const rows = await db.query(
        `UPDATE generations SET status = 'RUNNING', started_at = COALESCE(started_at, now()), template_id = $2
         WHERE id = $1 AND status IN ('QUEUED', 'RUNNING') RETURNING id`,
        [id, templateId],
      );
      return rows.length > 0;
    },
    /**
     * Finishes a generation once: a second worker finishing the same job changes nothing.
     * The owner's id when this call finished it, else null.
     */
    async markSucceeded(id: string, memeId: string, cached: boolean) {
      const [row] = await db.query<{ user_id: string }>(
        `UPDATE generations SET status = 'SUCCEEDED', meme_id = $2, cached = $3, finished_at = now(), error_code = NULL, error_message = NULL, output = NULL
         WHERE id = $1 AND status IN ('QUEUED', 'RUNNING') RETURNING user_id`,
        [id, memeId, cached],
      );
      return row?.user_id ?? null;
    },
    /** The owner's id when this call failed the generation, else null (it had finished). */
    async markFailed(id: string, code: string, message: string) {
      const [row] = await db.query<{ user_id: string }>(
        `UPDATE generations SET status = 'FAILED', error_code = $2, error_message = $3, finished_at = now()
         WHERE id = $1 AND status IN ('QUEUED', 'RUNNING') RETURNING user_id`,
        [id, code, message],
      );
      return row?.user_id ?? null;
    },
  };
}

export type GenerationStore = ReturnType<typeof createGenerationStore>;
