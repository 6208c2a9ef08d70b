import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GALLERY_CLIENT_NAME } from '@memegraph/gallery';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The gallery's persisted-query manifest, as the router enforces it. */
export const GALLERY_MANIFEST_PATH = createRequire(import.meta.url).resolve(
  '@memegraph/gallery/persisted-query-manifest.json',
);

/** Router settings that serve the built gallery at `/` and hold the gallery's traffic, and only it, to its manifest. */
export const galleryRouterEnv = (galleryDir: string): Record<string, string> => ({
  GALLERY_DIR: galleryDir,
  TRUSTED_DOCUMENTS_MANIFEST: GALLERY_MANIFEST_PATH,
  TRUSTED_DOCUMENTS_MODE_BY_CLIENT: JSON.stringify({ [GALLERY_CLIENT_NAME]: 'enforce' }),
});

/** The gallery built as `npm start` builds it, into a folder of the caller's own; `remove` deletes it. */
export async function buildGallery(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'memegraph-gallery-'));
  // vitest sets NODE_ENV=test, which would make Vite build React's development copy.
  await promisify(execFile)(
    'npm',
    ['run', 'build', '--workspace', '@memegraph/gallery', '--', '--outDir', dir, '--emptyOutDir'],
    {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'production' },
    },
  );
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
