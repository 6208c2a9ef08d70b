/**
 * `npm run build` in a workspace: its `src/` as JavaScript in `dist/`, one
 * file per source file with a source map, and the non-TypeScript files under
 * `src/` (the router's web assets) copied beside them.
 *
 * One output file per source file keeps every `import.meta.url` path as it is
 * in the sources (`../schema.graphql`, `./public/`), so the same code finds its
 * files from `src/` under tsx and from `dist/` under node. The sources import
 * each other without extensions (moduleResolution Bundler), which Node's ESM
 * loader refuses; esbuild resolves each relative import and writes it back as
 * the `.js` file it becomes. Packages stay imports: workspace packages resolve
 * through their `exports` to their own `dist/`.
 *
 * Usage, from a workspace directory: tsx ../scripts/build.ts
 * (the root's scripts that production runs: tsx scripts/build.ts --src scripts --out scripts/dist --no-assets --only start.ts,migrate.ts)
 */
import { cp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build, type Plugin } from 'esbuild';

const { values: options } = parseArgs({
  options: {
    src: { type: 'string', default: 'src' },
    out: { type: 'string', default: 'dist' },
    'no-assets': { type: 'boolean', default: false },
    /** Only these files of `src`, comma-separated, which must import no other file of it (default: every file). */
    only: { type: 'string' },
  },
});
const cwd = process.cwd();
const srcDir = path.resolve(cwd, options.src);
const outDir = path.resolve(cwd, options.out);
/** Written last; scripts/launch.mjs compares its time with the sources' to know whether the build is stale. */
const BUILD_STAMP = '.built';

const isTest = (file: string) => /\.test\.tsx?$/.test(file);
const isSource = (file: string) => /\.tsx?$/.test(file) && !file.endsWith('.d.ts');

async function walk(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (file !== outDir) files.push(...(await walk(file)));
    } else files.push(file);
  }
  return files;
}

/** The source file an extensionless relative import names, as Bundler resolution finds it. */
function sourceOf(specifier: string, importer: string): string | null {
  const base = path.resolve(path.dirname(importer), specifier);
  for (const candidate of [
    base,
    `${base}.ts`,
    `${base}.tsx`,
    path.join(base, 'index.ts'),
    path.join(base, 'index.tsx'),
  ]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return null;
}

/**
 * The built file of a source file: this build's own under `outDir`; another
 * workspace's (the bench servers import some router internals) in that
 * workspace's `dist/`, which its own build makes.
 */
function outputOf(source: string): string | null {
  const js = source.replace(/\.tsx?$/, '.js');
  if (!path.relative(srcDir, source).startsWith('..')) return path.join(outDir, path.relative(srcDir, js));
  const other = js.match(/^(.*)\/src\/(.*)$/);
  return other ? path.join(other[1]!, 'dist', other[2]!) : null;
}

/** Every relative import stays an import, of the `.js` file its source becomes. */
const relativeImportsAsJs: Plugin = {
  name: 'relative-imports-as-js',
  setup(b) {
    b.onResolve({ filter: /^\.\.?(\/|$)/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      const source = sourceOf(args.path, args.importer);
      const output = source && outputOf(source);
      if (!output)
        return { errors: [{ text: `cannot resolve ${args.path} from ${path.relative(cwd, args.importer)}` }] };
      let target = path
        .relative(path.dirname(outputOf(args.importer)!), output)
        .split(path.sep)
        .join('/');
      if (!target.startsWith('.')) target = `./${target}`;
      return { path: target, external: true };
    });
  },
};

const files = await walk(srcDir);
const only = options.only?.split(',').map((f) => path.resolve(srcDir, f));
const entryPoints = only ?? files.filter((f) => isSource(f) && !isTest(f));
const assets = options['no-assets'] ? [] : files.filter((f) => !isSource(f) && !isTest(f));

await rm(outDir, { recursive: true, force: true });
await build({
  entryPoints,
  outdir: outDir,
  outbase: srcDir,
  bundle: true,
  packages: 'external',
  plugins: [relativeImportsAsJs],
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
});
for (const asset of assets) {
  const target = path.join(outDir, path.relative(srcDir, asset));
  await mkdir(path.dirname(target), { recursive: true });
  await cp(asset, target);
}
await writeFile(path.join(outDir, BUILD_STAMP), `${new Date().toISOString()}\n`);
console.log(
  `built ${entryPoints.length} files${assets.length ? ` and ${assets.length} assets` : ''} into ${path.relative(process.cwd(), outDir) || '.'}/`,
);
