import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Supergraph } from '@apollo/federation-internals';
import { getOperationAST, parse, validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PersistedQueryManifest } from './manifest';
import { OPERATIONS } from './operations';

const GALLERY_DIR = fileURLToPath(new URL('..', import.meta.url));
const SUPERGRAPH_PATH = fileURLToPath(new URL('../../schema/supergraph.graphql', import.meta.url));
const MANIFEST_PATH = join(GALLERY_DIR, 'persisted-query-manifest.json');
const MANIFEST_CONFIG_PATH = join(GALLERY_DIR, 'persisted-query-manifest.config.json');

/**
 * The schema clients see. As the router's `prepareForGateway` does, the
 * `for: SECURITY` purpose is dropped from the links the router enforces
 * itself, since federation-internals refuses to build a supergraph with
 * security features it does not know.
 */
async function loadApiSchema(): Promise<GraphQLSchema> {
  const sdl = (await readFile(SUPERGRAPH_PATH, 'utf8')).replace(/(@link\(url: "[^"]+"), for: SECURITY\)/g, '$1)');
  return Supergraph.build(sdl).apiSchema().toGraphQLJSSchema();
}

async function readManifest(): Promise<PersistedQueryManifest> {
  return JSON.parse(await readFile(MANIFEST_PATH, 'utf8')) as PersistedQueryManifest;
}

function validationErrors(schema: GraphQLSchema, document: DocumentNode): string[] {
  return validate(schema, document).map((error) => error.message);
}

describe('gallery operations', () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await loadApiSchema();
  });

  it.each(Object.entries(OPERATIONS))('%s is one named operation valid against the supergraph', (name, document) => {
    expect(getOperationAST(document)?.name?.value).toBe(name);
    expect(validationErrors(schema, document)).toEqual([]);
  });

  it('the committed manifest lists every operation, and only those, with bodies valid against the supergraph', async () => {
    const manifest = await readManifest();
    expect(manifest.format).toBe('apollo-persisted-query-manifest');
    expect(manifest.version).toBe(1);
    expect(manifest.operations.map((operation) => operation.name).sort()).toEqual(Object.keys(OPERATIONS).sort());
    for (const operation of manifest.operations) {
      const document = parse(operation.body);
      expect(getOperationAST(document)?.operation, operation.name).toBe(operation.type);
      expect(validationErrors(schema, document), operation.name).toEqual([]);
    }
  });

  it('the committed manifest is what `npm run manifest` generates from the current operations', async () => {
    // The CLI itself, as the npm script runs it (from the package folder), but
    // writing to a temporary file.
    const cli = join(
      dirname(createRequire(import.meta.url).resolve('@apollo/generate-persisted-query-manifest/package.json')),
      'cli.js',
    );
    const dir = await mkdtemp(join(tmpdir(), 'gallery-manifest-'));
    try {
      const config = JSON.parse(await readFile(MANIFEST_CONFIG_PATH, 'utf8')) as Record<string, unknown>;
      const output = join(dir, 'persisted-query-manifest.json');
      await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, output }));
      await promisify(execFile)(process.execPath, [cli, '--config', join(dir, 'config.json')], { cwd: GALLERY_DIR });
      const [fresh, committed] = await Promise.all([readFile(output, 'utf8'), readFile(MANIFEST_PATH, 'utf8')]);
      expect(
        committed,
        'gallery/persisted-query-manifest.json is stale: run `npm run manifest -w @memegraph/gallery`',
      ).toBe(fresh);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
