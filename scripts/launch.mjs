// @ts-check
/**
 * `npm start` and `npm run migrate`: runs a built script of scripts/dist/
 * (`node scripts/launch.mjs start|migrate [args]`), building the services and
 * scripts first when their build is missing or older than their sources.
 *
 * Plain JavaScript, so that node runs it as it is: a production install
 * (`npm ci --omit=dev`) has no TypeScript tooling, only the build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/**
 * What `npm run build:server` makes, each with its sources and its output
 * (the gallery is left to start.ts, which serves the API when its build fails).
 * @type {{ name: string, src: string, out: string }[]}
 */
const UNITS = [
  ...['service-kit', 'subgraphs/users', 'subgraphs/memes', 'subgraphs/ai', 'router'].map((name) => ({
    name,
    src: path.join(root, name, 'src'),
    out: path.join(root, name, 'dist'),
  })),
  { name: 'scripts', src: path.join(root, 'scripts'), out: path.join(root, 'scripts', 'dist') },
];
const STAMP = '.built'; // written last by scripts/build.ts

/**
 * The newest modification time of the files under `dir` (tests and build output excluded).
 * @param {string} dir
 * @returns {number}
 */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'dist' && entry.name !== 'node_modules') newest = Math.max(newest, newestSource(file));
    } else if (!/\.test\.tsx?$/.test(entry.name)) newest = Math.max(newest, statSync(file).mtimeMs);
  }
  return newest;
}

/**
 * Missing: no build at all. Stale: sources newer than the build (a copy with
 * the build only, as in the image, has no sources to compare).
 * @param {{ src: string, out: string }} unit
 * @returns {'built' | 'stale' | 'missing'}
 */
function stateOf({ src, out }) {
  const stamp = path.join(out, STAMP);
  if (!existsSync(stamp)) return 'missing';
  return existsSync(src) && newestSource(src) > statSync(stamp).mtimeMs ? 'stale' : 'built';
}

const [script, ...args] = process.argv.slice(2);
if (!script || !/^[a-z-]+$/.test(script)) {
  console.error('usage: node scripts/launch.mjs <script in scripts/dist> [args]');
  process.exit(2);
}

const states = UNITS.map((unit) => ({ name: unit.name, state: stateOf(unit) }));
const outdated = states.filter((u) => u.state !== 'built');
if (outdated.length) {
  const names = outdated.map((u) => u.name).join(', ');
  const bin = path.join(root, 'node_modules', '.bin');
  if (existsSync(path.join(bin, 'turbo')) && existsSync(path.join(bin, 'tsx'))) {
    console.log(`memegraph: building ${names}`);
    const build = spawnSync('npm', ['run', 'build:server'], { cwd: root, stdio: 'inherit' });
    if (build.status !== 0) {
      console.error(`memegraph: the build failed (${build.error ? build.error.message : `exit code ${build.status}`})`);
      process.exit(1);
    }
  } else if (outdated.some((u) => u.state === 'missing')) {
    // A production install (npm ci --omit=dev) has no build tools: it runs a build made before.
    console.error(`memegraph: no build of ${names}; run \`npm ci && npm run build\` before a production install`);
    process.exit(1);
  } else {
    console.error(
      `memegraph: the sources of ${names} are newer than their build, and this install cannot build; running the build as it is`,
    );
  }
}

process.argv = [process.argv[0] ?? process.execPath, path.join(root, 'scripts', 'dist', `${script}.js`), ...args];
await import(pathToFileURL(path.join(root, 'scripts', 'dist', `${script}.js`)).href);
