import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { settingFields } from '@astraflow/config';
import { createPrometheusMetrics } from '@astraflow/worker';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

// Structural validation of deploy/: the kustomize base and overlay reference files that exist
// and objects that match, the Deployment's probes, ports, settings and grace period agree with
// the worker, and every metric a manifest or the dashboard queries is one the worker exports.
const ROOT = join(import.meta.dirname, '..', '..', '..');
const K8S = join(ROOT, 'deploy', 'kubernetes');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML/JSON, read structurally and checked by the assertions
type Obj = Record<string, any>;

function load(file: string): Obj[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  for (const doc of docs) expect(doc.errors, file).toEqual([]);
  return docs.map((d) => d.toJS() as Obj).filter((d) => d !== null);
}

/** A kustomization and every object it (recursively) includes, with its own patches. */
function kustomize(dir: string): { kustomization: Obj; objects: Obj[]; patches: Obj[] } {
  const [kustomization] = load(join(dir, 'kustomization.yaml'));
  expect(kustomization).toMatchObject({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization' });
  const objects: Obj[] = [];
  for (const entry of (kustomization!['resources'] ?? []) as string[]) {
    const path = join(dir, entry);
    expect(existsSync(path), `${dir}: resource ${entry}`).toBe(true);
    if (existsSync(join(path, 'kustomization.yaml'))) objects.push(...kustomize(path).objects);
    else objects.push(...load(path));
  }
  const patches = ((kustomization!['patches'] ?? []) as Array<{ path: string }>).flatMap((p) => {
    expect(existsSync(join(dir, p.path)), `${dir}: patch ${p.path}`).toBe(true);
    return load(join(dir, p.path));
  });
  return { kustomization: kustomization!, objects, patches };
}

const base = kustomize(join(K8S, 'base'));
const overlay = kustomize(join(K8S, 'overlays', 'production'));
const find = (objects: Obj[], kind: string): Obj => {
  const found = objects.filter((o) => o['kind'] === kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!;
};
const deployment = find(base.objects, 'Deployment');
const pod = deployment['spec']['template'];
const container = pod['spec']['containers'][0] as Obj;
const configMap = find(base.objects, 'ConfigMap');

const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Metric names in a PromQL expression (histogram series mapped to their family). */
function metricsIn(expr: string): string[] {
  return expr.match(/\b(?:astraflow_worker|process|nodejs)_[a-z0-9_]+/g) ?? [];
}

describe('deploy/kubernetes', () => {
  it('has well-formed objects with unique kind/name in base and overlay', () => {
    for (const { objects } of [base, overlay]) {
      const seen = new Set<string>();
      for (const o of objects) {
        expect(typeof o['apiVersion'], JSON.stringify(o).slice(0, 80)).toBe('string');
        expect(typeof o['kind']).toBe('string');
        expect(o['metadata']?.['name']).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
        const key = `${o['kind']}/${o['metadata']['name']}`;
        expect(seen.has(key), key).toBe(false);
        seen.add(key);
      }
    }
    expect(base.objects.map((o) => `${o['apiVersion']} ${o['kind']}`).sort()).toEqual([
      'apps/v1 Deployment',
      'keda.sh/v1alpha1 ScaledObject',
      'monitoring.coreos.com/v1 PodMonitor',
      'policy/v1 PodDisruptionBudget',
      'v1 ConfigMap',
      'v1 Secret',
    ]);
  });

  it('overlay patches and generators only touch objects the base has', () => {
    const names = new Set(overlay.objects.map((o) => `${o['kind']}/${o['metadata']['name']}`));
    for (const patch of overlay.patches)
      expect(names.has(`${patch['kind']}/${patch['metadata']['name']}`), patch['kind']).toBe(true);
    for (const [field, kind] of [
      ['configMapGenerator', 'ConfigMap'],
      ['secretGenerator', 'Secret'],
    ] as const) {
      for (const g of overlay.kustomization[field] ?? []) {
        expect(names.has(`${kind}/${g.name}`), `${field} ${g.name}`).toBe(true);
        for (const literal of g.literals ?? []) expect(settingEnv.has(literal.split('=')[0]), literal).toBe(true);
        for (const file of g.files ?? []) expect(settingEnv.has(file.split('=')[0]), file).toBe(true);
      }
    }
    expect(readFileSync(join(K8S, 'overlays', 'production', '.gitignore'), 'utf8')).toContain('auth-token');
  });

  const settingEnv = new Set<string>(settingFields.map((f) => f.env));

  it('configures the worker only through settings that exist, with the token in the Secret', () => {
    for (const key of Object.keys(configMap['data'])) expect(settingEnv.has(key), key).toBe(true);
    expect(configMap['data']).not.toHaveProperty('ASTRA_WORKER_AUTH_TOKEN');
    expect(Object.keys(find(base.objects, 'Secret')['stringData'])).toEqual(['ASTRA_WORKER_AUTH_TOKEN']);
    for (const env of container['env'] ?? []) expect(settingEnv.has(env.name), env.name).toBe(true);
    expect(container['envFrom']).toEqual([
      { configMapRef: { name: configMap['metadata']['name'] } },
      { secretRef: { name: find(base.objects, 'Secret')['metadata']['name'] } },
    ]);
    expect(configMap['data']).toMatchObject({ ASTRA_WORKER_HTTP_ENABLED: 'true', ASTRA_WORKER_HTTP_HOST: '0.0.0.0' });
  });

  it('probes /readyz and /healthz on the port the worker listens on, with resource requests', () => {
    const port = container['ports'].find((p: Obj) => p['name'] === 'http');
    expect(String(port['containerPort'])).toBe(configMap['data']['ASTRA_WORKER_HTTP_PORT']);
    expect(container['readinessProbe']['httpGet']).toEqual({ path: '/readyz', port: 'http' });
    expect(container['livenessProbe']['httpGet']).toEqual({ path: '/healthz', port: 'http' });
    expect(container['resources']['requests']).toMatchObject({ cpu: expect.anything(), memory: expect.anything() });
    expect(pod['spec']['securityContext']['runAsNonRoot']).toBe(true);
    expect(matches(deployment['spec']['selector']['matchLabels'], pod['metadata']['labels'])).toBe(true);
    expect(deployment['spec']).not.toHaveProperty('replicas');
  });

  it('gives the pod more time to stop than the worker documents as its worst case', () => {
    const extra = /stops within `shutdown_grace_seconds` \+ (\d+) s/.exec(README);
    expect(extra, 'README documents the worst-case stop').not.toBeNull();
    const worstCase = Number(configMap['data']['ASTRA_WORKER_SHUTDOWN_GRACE_SECONDS']) + Number(extra![1]);
    expect(pod['spec']['terminationGracePeriodSeconds']).toBeGreaterThan(worstCase);
  });

  it('selects the worker pods from the PodDisruptionBudget and the PodMonitor, and scales the Deployment', () => {
    const labels = pod['metadata']['labels'] as Record<string, string>;
    expect(matches(find(base.objects, 'PodDisruptionBudget')['spec']['selector']['matchLabels'], labels)).toBe(true);
    const monitor = find(base.objects, 'PodMonitor');
    expect(matches(monitor['spec']['selector']['matchLabels'], labels)).toBe(true);
    expect(monitor['spec']['podMetricsEndpoints']).toContainEqual(expect.objectContaining({ port: 'http', path: '/metrics' }));
    const scaled = find(base.objects, 'ScaledObject');
    expect(scaled['spec']['scaleTargetRef']['name']).toBe(deployment['metadata']['name']);
    expect(scaled['spec']['minReplicaCount']).toBeGreaterThanOrEqual(1);
    expect(scaled['spec']['maxReplicaCount']).toBeGreaterThan(scaled['spec']['minReplicaCount']);
    const [trigger] = scaled['spec']['triggers'] as Obj[];
    expect(trigger!['type']).toBe('prometheus');
    const query = String(trigger!['metadata']['query']);
    expect(metricsIn(query)).toEqual(['astraflow_worker_inflight_tasks', 'astraflow_worker_capacity_tasks']);
    // The query filters on the namespace the overlay deploys to, and on the container name.
    expect(query).toContain(`namespace="${overlay.kustomization['namespace']}"`);
    expect(query).toContain(`container="${container['name']}"`);
  });

  it('queries only metrics the worker exports (ScaledObject and Grafana dashboard)', async () => {
    const exported = new Set(
      (await createPrometheusMetrics().render())
        .split('\n')
        .filter((l) => l.startsWith('# TYPE '))
        .map((l) => l.split(' ')[2]!),
    );
    const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'astraflow-worker.json'), 'utf8')) as Obj;
    const exprs: string[] = [String(find(base.objects, 'ScaledObject')['spec']['triggers'][0]['metadata']['query'])];
    for (const panel of dashboard['panels'] as Obj[]) for (const t of panel['targets'] ?? []) exprs.push(String(t['expr']));
    for (const v of dashboard['templating']['list'] as Obj[]) if (typeof v['query'] === 'string') exprs.push(v['query']);
    const queried = new Set(exprs.flatMap(metricsIn));
    expect(queried.size).toBeGreaterThan(10);
    const family = (name: string): string => (exported.has(name) ? name : name.replace(/_(bucket|sum|count)$/, ''));
    for (const name of queried) expect(exported.has(family(name)), `${name} is not exported`).toBe(true);
  });
});
