/**
 * The deployment files, checked where no Docker daemon or cluster is: the
 * compose file against the Compose Specification's JSON schema (as `docker
 * compose config` would), the Kubernetes manifests rendered as kustomize
 * renders them and validated against the Kubernetes schemas
 * (kubernetes-models), and both against what the services read (.env.example)
 * and what the image runs (deploy/image/entrypoint.sh). The image's contents
 * themselves are started and queried by `npm run verify:production`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

/** Every variable .env.example documents (commented-out examples too). */
const DOCUMENTED = new Set([...read('.env.example').matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!));
/** The services the image runs, from its entry script's `case`. */
const ENTRIES = [...read('deploy/image/entrypoint.sh').matchAll(/^ {2}([a-z-]+)\) exec /gm)].map((m) => m[1]!);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };
const isObj = (value: Json | undefined): value is Obj =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

describe('the image', () => {
  it('has an entry per service, and its build stage runs the script CI runs', () => {
    expect(ENTRIES.sort()).toEqual(['ai', 'ai-worker', 'memes', 'migrate', 'router', 'users']);
    const dockerfile = read('Dockerfile');
    expect([...dockerfile.matchAll(/^RUN (.*)$/gm)].map((m) => m[1])).toEqual(['bash deploy/image/build.sh /src /app']);
    expect([...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1])).toEqual(['node:20-slim', 'node:20-slim']);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^STOPSIGNAL SIGTERM$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*healthcheck\.mjs/m);
    expect(read('.ci/run')).toMatch(/^npm run verify:production$/m);
  });
});

// --- compose ---

/**
 * Compose's interpolation of one string: ${VAR}, ${VAR:-default}, ${VAR-default},
 * ${VAR:?message}, ${VAR?message}, and $$ for a dollar sign.
 */
function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g,
    (match, name?: string, colon?: string, op?: string, arg?: string) => {
      if (match === '$$') return '$';
      const value = env[name!];
      const missing = value === undefined || (colon === ':' && value === '');
      if (op === '?' && missing) throw new Error(`required variable ${name}: ${arg}`);
      if (op === '-' && missing) return arg!;
      return value ?? '';
    },
  );
}

function interpolateAll(value: Json, env: Record<string, string>): Json {
  if (typeof value === 'string') return interpolate(value, env);
  if (Array.isArray(value)) return value.map((v) => interpolateAll(v, env));
  if (isObj(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateAll(v, env)]));
  return value;
}

const SECRETS = {
  SUBGRAPH_SIGNING_SECRET: 's'.repeat(32),
  JWT_SECRET: 'j'.repeat(32),
  POSTGRES_PASSWORD: 'p'.repeat(16),
};
const composeFile = (env: Record<string, string>) =>
  interpolateAll(parse(read('compose.yaml'), { merge: true }) as Json, env) as Obj;

describe('compose.yaml', () => {
  const compose = composeFile(SECRETS);
  const services = compose.services as Record<string, Obj>;
  const ours = Object.entries(services).filter(([, s]) => String(s.image).startsWith('memegraph'));

  it('is valid by the Compose Specification schema', () => {
    const schema = JSON.parse(read('deploy/compose/compose-spec.json')) as object;
    // The schema names draft-07 by an https URL Ajv does not know; it is draft-07 all the same.
    const validate = new Ajv({ allErrors: true, strict: false, validateSchema: false }).compile(schema);
    expect(validate(compose) ? [] : validate.errors).toEqual([]);
  });

  it('refuses to start without the secrets', () => {
    for (const name of Object.keys(SECRETS)) {
      const env: Record<string, string> = { ...SECRETS };
      delete env[name];
      expect(() => composeFile(env)).toThrow(`required variable ${name}`);
    }
  });

  it('runs every image entry: the migrate job first, two routers behind the load balancer', () => {
    const commands = ours.map(([, s]) => (s.command as string[])[0]!);
    expect([...new Set(commands)].sort()).toEqual([...ENTRIES].sort());
    expect(commands.filter((c) => c === 'router')).toHaveLength(2);
    for (const [name, service] of ours) {
      const command = (service.command as string[])[0];
      const dependsOn = service.depends_on as Record<string, { condition: string }>;
      if (command === 'migrate') {
        expect(dependsOn).toEqual({ postgres: { condition: 'service_healthy' } });
        continue;
      }
      expect(dependsOn.migrate ?? dependsOn.users, name).toBeDefined();
      if (command !== 'router')
        expect(dependsOn.migrate, name).toEqual({ condition: 'service_completed_successfully' });
      for (const dependency of Object.keys(dependsOn))
        expect(services[dependency], `${name} depends on ${dependency}`).toBeDefined();
      const healthcheck = service.healthcheck as Obj;
      if (command === 'ai-worker') expect(healthcheck).toEqual({ disable: true });
      else expect(healthcheck.test).toEqual(['CMD', 'node', '/app/deploy/image/healthcheck.mjs']);
    }
    const routers = ours.filter(([, s]) => (s.command as string[])[0] === 'router').map(([name]) => name);
    const balanced = [...read('deploy/compose/haproxy.cfg').matchAll(/^\s+server (\S+) (\S+):8080$/gm)].map((m) => [
      m[1],
      m[2],
    ]);
    expect(balanced).toEqual(routers.map((r) => [r, r]));
    expect(read('deploy/compose/haproxy.cfg')).toMatch(/option httpchk GET \/ready/);
    const lb = services.lb!;
    expect(Object.keys(lb.depends_on as Obj).sort()).toEqual(routers.sort());
  });

  it('passes every setting of .env.example through, and sets no other', () => {
    // Not passed: the image sets PORT and HOST; DATA_DIR is for embedded databases; compose runs one Redis, not a cluster.
    const notPassed = new Set(['PORT', 'HOST', 'DATA_DIR', 'REDIS_CLUSTER_NODES']);
    const set = new Set<string>();
    for (const [name, service] of ours) {
      const environment = service.environment as Record<string, string>;
      for (const key of Object.keys(environment)) {
        expect(DOCUMENTED.has(key), `${name} sets ${key}, which .env.example does not document`).toBe(true);
        set.add(key);
      }
      expect(environment.MIGRATE_ON_START, name).toBe('false');
    }
    expect([...DOCUMENTED].filter((v) => !set.has(v) && !notPassed.has(v))).toEqual([]);
  });
});

// --- Kubernetes ---

interface Resource extends Obj {
  apiVersion: string;
  kind: string;
  metadata: Obj & { name: string };
}

const KINDS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'batch/v1/Job': Job,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/Secret': Secret,
  'v1/Service': Service,
};

const yamlDocuments = (file: string): Resource[] =>
  parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    return doc.toJS() as Resource;
  });

/** A strategic merge: maps merge, lists of named items merge by name, anything else is replaced. */
function merge(base: Json, patch: Json): Json {
  if (isObj(base) && isObj(patch)) {
    const out: Obj = { ...base };
    for (const [key, value] of Object.entries(patch)) out[key] = key in base ? merge(base[key]!, value) : value;
    return out;
  }
  if (Array.isArray(base) && Array.isArray(patch) && patch.every((p) => isObj(p) && typeof p.name === 'string')) {
    const out = [...base];
    for (const item of patch as Obj[]) {
      const at = out.findIndex((b) => isObj(b) && b.name === item.name);
      if (at >= 0) out[at] = merge(out[at]!, item);
      else out.push(item);
    }
    return out;
  }
  return patch;
}

const podSpecOf = (r: Resource) => ((r.spec as Obj).template as Obj).spec as Obj & { containers: Obj[] };

/**
 * `kustomize build dir` for what these kustomizations use (resources, namespace,
 * images, replicas, patches); anything else fails the test rather than being ignored.
 */
function kustomize(dir: string): Resource[] {
  const k = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as Obj;
  const known = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'images', 'replicas', 'patches']);
  expect(
    Object.keys(k).filter((key) => !known.has(key)),
    `${dir}: fields the test's renderer does not know`,
  ).toEqual([]);
  let resources = (k.resources as string[]).flatMap((entry) => {
    const file = path.join(dir, entry);
    return statSync(file).isDirectory() ? kustomize(file) : yamlDocuments(file);
  });
  for (const { path: patchFile } of (k.patches ?? []) as { path: string }[]) {
    for (const patch of yamlDocuments(path.join(dir, patchFile))) {
      const at = resources.findIndex((r) => r.kind === patch.kind && r.metadata.name === patch.metadata.name);
      expect(
        at,
        `${patchFile} patches ${patch.kind}/${patch.metadata.name}, which is not there`,
      ).toBeGreaterThanOrEqual(0);
      resources[at] = merge(resources[at]!, patch) as Resource;
    }
  }
  for (const { name, count } of (k.replicas ?? []) as { name: string; count: number }[]) {
    const target = resources.find((r) => r.kind === 'Deployment' && r.metadata.name === name);
    expect(target, `replicas for ${name}`).toBeDefined();
    (target!.spec as Obj).replicas = count;
  }
  for (const { name, newName, newTag } of (k.images ?? []) as { name: string; newName?: string; newTag?: string }[]) {
    for (const r of resources.filter((r) => r.kind === 'Deployment' || r.kind === 'Job')) {
      for (const c of podSpecOf(r).containers) {
        const [image, tag] = String(c.image).split(':');
        if (image === name) c.image = `${newName ?? image}${(newTag ?? tag) ? `:${newTag ?? tag}` : ''}`;
      }
    }
  }
  const namespace = k.namespace;
  if (typeof namespace === 'string') {
    resources = resources.map((r) => (r.kind === 'Namespace' ? r : { ...r, metadata: { ...r.metadata, namespace } }));
  }
  return resources;
}

const validateAll = (resources: Resource[]) => {
  for (const r of resources) {
    const Model = KINDS[`${r.apiVersion}/${r.kind}`];
    expect(Model, `${r.apiVersion} ${r.kind} has no model in the test`).toBeDefined();
    expect(() => new Model!(r as never).validate(), `${r.kind}/${r.metadata.name}`).not.toThrow();
  }
};

describe('deploy/kubernetes', () => {
  const kube = path.join(root, 'deploy/kubernetes');
  const overlays = readdirSync(path.join(kube, 'overlays'));
  const base = kustomize(path.join(kube, 'base'));
  const example = kustomize(path.join(kube, 'overlays/example'));
  const byKind = (resources: Resource[], kind: string) => resources.filter((r) => r.kind === kind);

  it('renders and validates against the Kubernetes schemas: the base, every overlay, the Secret template', () => {
    validateAll(base);
    for (const overlay of overlays) validateAll(kustomize(path.join(kube, 'overlays', overlay)));
    validateAll(yamlDocuments(path.join(kube, 'secret.example.yaml')));
  });

  it('runs a Deployment per service with probes, a drain before SIGTERM, and resources', () => {
    const deployments = byKind(base, 'Deployment');
    expect(deployments.map((d) => podSpecOf(d).containers[0]!.args).sort()).toEqual(
      ENTRIES.filter((e) => e !== 'migrate')
        .sort()
        .map((e) => [e]),
    );
    for (const d of deployments) {
      const [container] = podSpecOf(d).containers;
      const name = d.metadata.name;
      expect(container!.resources, name).toMatchObject({
        requests: { cpu: expect.any(String), memory: expect.any(String) },
        limits: { memory: expect.any(String) },
      });
      expect(container!.envFrom, name).toEqual([
        { configMapRef: { name: 'memegraph-config' } },
        { secretRef: { name: 'memegraph-secrets' } },
      ]);
      if (name === 'ai-worker') continue;
      expect(container!.readinessProbe, name).toMatchObject({ httpGet: { path: '/ready', port: 'http' } });
      expect(container!.livenessProbe, name).toMatchObject({ httpGet: { path: '/health', port: 'http' } });
      const preStop = ((container!.lifecycle as Obj).preStop as Obj).exec as { command: string[] };
      const [, seconds] = preStop.command;
      // Kubernetes kills the pod after the grace period: it must hold the preStop and the services' 10 s drain.
      expect(Number(seconds) + 10, name).toBeLessThan(podSpecOf(d).terminationGracePeriodSeconds as number);
      expect((d.spec as Obj).strategy, name).toMatchObject({ rollingUpdate: { maxUnavailable: 0 } });
    }
    const [job] = byKind(base, 'Job');
    expect(podSpecOf(job!).containers[0]!.args).toEqual(['migrate']);
  });

  it('scales the router and the AI worker, keeps one replica at most unavailable, exposes the HTTP services', () => {
    expect(
      byKind(base, 'HorizontalPodAutoscaler')
        .map((h) => ((h.spec as Obj).scaleTargetRef as Obj).name)
        .sort(),
    ).toEqual(['ai-worker', 'router']);
    expect(
      byKind(base, 'PodDisruptionBudget')
        .map((p) => p.metadata.name)
        .sort(),
    ).toEqual(['ai', 'memes', 'router', 'users']);
    expect(
      byKind(base, 'Service')
        .map((s) => s.metadata.name)
        .sort(),
    ).toEqual(['ai', 'memes', 'router', 'users']);
  });

  it('lets only routers reach the subgraphs (and the ai services the memes subgraph, for finished memes)', () => {
    const from = (name: string) => {
      const policy = byKind(base, 'NetworkPolicy').find((p) => p.metadata.name === `${name}-ingress`)!;
      const [rule] = (policy.spec as Obj).ingress as {
        from: { podSelector: { matchLabels: Record<string, string> } }[];
      }[];
      return rule!.from.map((f) => f.podSelector.matchLabels['app.kubernetes.io/component']).sort();
    };
    expect(from('users')).toEqual(['router']);
    expect(from('ai')).toEqual(['router']);
    expect(from('memes')).toEqual(['ai', 'ai-worker', 'router']);
  });

  it('sets only settings the services read, with migrations as a step', () => {
    const config = byKind(example, 'ConfigMap')[0]!.data as Record<string, string>;
    const secret = yamlDocuments(path.join(kube, 'secret.example.yaml'))[0]!.stringData as Record<string, string>;
    for (const key of [...Object.keys(config), ...Object.keys(secret)])
      expect(DOCUMENTED.has(key), `${key} is not in .env.example`).toBe(true);
    expect(config.MIGRATE_ON_START).toBe('false');
    // The overlay's patch is merged into the base's settings, not in their place.
    expect(config).toMatchObject({
      PUBLIC_URL: 'https://memes.example.org',
      SUBGRAPH_URL_USERS: 'http://users/graphql',
    });
  });

  it('puts the example overlay in its namespace, on its image, with its replicas', () => {
    for (const r of example.filter((r) => r.kind !== 'Namespace'))
      expect(r.metadata.namespace, `${r.kind}/${r.metadata.name}`).toBe('memegraph');
    for (const r of example.filter((r) => r.kind === 'Deployment' || r.kind === 'Job')) {
      expect(podSpecOf(r).containers[0]!.image).toBe('registry.example.com/memegraph:2026.12.0');
    }
    const router = example.find((r) => r.kind === 'Deployment' && r.metadata.name === 'router')!;
    expect((router.spec as Obj).replicas).toBe(3);
  });
  it('runs a canary router beside the stable ones: the Service reaches both tracks, each Deployment only its own pods', () => {
    const canary = kustomize(path.join(kube, 'overlays/canary'));
    const deployments = byKind(canary, 'Deployment').filter(
      (d) => d.metadata.name === 'router' || d.metadata.name === 'router-canary',
    );
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['router', 'router-canary']);
    const service = byKind(canary, 'Service').find((r) => r.metadata.name === 'router')!;
    const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
      Object.entries(selector).every(([k, v]) => labels[k] === v);
    const podLabels = (d: Resource) =>
      (((d.spec as Obj).template as Obj).metadata as { labels: Record<string, string> }).labels;
    const matchLabels = (d: Resource) =>
      ((d.spec as Obj).selector as { matchLabels: Record<string, string> }).matchLabels;
    const [stable, next] = [
      deployments.find((d) => d.metadata.name === 'router')!,
      deployments.find((d) => d.metadata.name === 'router-canary')!,
    ];
    for (const d of [stable, next])
      expect(
        selects((service.spec as { selector: Record<string, string> }).selector, podLabels(d)),
        d.metadata.name,
      ).toBe(true);
    expect(selects(matchLabels(stable), podLabels(next))).toBe(false);
    expect(selects(matchLabels(next), podLabels(stable))).toBe(false);
    expect(podSpecOf(next).containers[0]!.image).toBe('registry.example.com/memegraph:2026.12.1');
    expect(podSpecOf(stable).containers[0]!.image).toBe('registry.example.com/memegraph:2026.12.0');
  });
});
