import type { Queryable } from '@memegraph/service-kit';

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
}

const COLUMNS =
  'id, user_id, prompt, template_id, status, provider, meme_id, error_code, error_message, created_at, started_at, finished_at';

/** The generations table: the AI subgraph's own record of every request. */
export function createGenerationStore(db: Queryable) {
  return {
    async create(input: { userId: string; prompt: string; templateId: string | null; provider: string }) {
      const [row] = await db.query<GenerationRow>(
        `INSERT INTO generations (user_id, prompt, template_id, status, provider)
         VALUES ($1, $2, $3, 'QUEUED', $4) RETURNING ${COLUMNS}`,
        [input.userId, input.prompt, input.templateId, input.provider],
      );
      return row!;
    },
    async byIds(ids: readonly string[]) {
      return db.query<GenerationRow>(`SELECT ${COLUMNS} FROM generations WHERE id = ANY($1::bigint[])`, [ids]);
    },
    async markRunning(id: string, templateId: string) {
      await db.query(`UPDATE generations SET status = 'RUNNING', started_at = now(), template_id = $2 WHERE id = $1`, [id, templateId]);
    },
    async markSucceeded(id: string, memeId: string) {
      await db.query(
        `UPDATE generations SET status = 'SUCCEEDED', meme_id = $2, finished_at = now(), error_code = NULL, error_message = NULL WHERE id = $1`,
        [id, memeId],
      );
    },
    async markFailed(id: string, code: string, message: string) {
      await db.query(
        `UPDATE generations SET status = 'FAILED', error_code = $2, error_message = $3, finished_at = now() WHERE id = $1`,
        [id, code, message],
      );
    },
  };
}

export type GenerationStore = ReturnType<typeof createGenerationStore>;
