// deploy/kubernetes rendered the way kustomize renders it (the base, and the
// privileged overlay's JSON patches applied to it) plus servicemonitor.yaml:
// every object valid against the Kubernetes (kubernetes-models) and Prometheus
// Operator schemas, with no field the API does not know, and wired the way the
// agent needs: the capabilities requiredCapabilities() names, read-only host
// mounts, probes and port the agent serves, the node name it reads, pods-only
// RBAC, and a Service and ServiceMonitor that find the pods.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

import type {
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1Container,
  V1DaemonSet,
  V1HTTPGetAction,
  V1Service,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import t from 'tap';
import { parseAllDocuments } from 'yaml';

import { parseRunOptions } from '../../src/cli/run';
import { DEFAULT_OPTIONS } from '../../src/config/AgentOptions';
import { parseListen } from '../../src/config/listenAddress';
import { SETTINGS } from '../../src/config/settings';
import { ATTRIBUTION_LABELS } from '../../src/enrich/Attribution';
import { requiredCapabilities } from '../../src/kernel/privileges';
import { ROOT } from '../helpers/paths';

const KUBERNETES = path.join(ROOT, 'deploy', 'kubernetes');
const BASE = path.join(KUBERNETES, 'base');
const PRIVILEGED = path.join(KUBERNETES, 'privileged');
const HOST_MOUNTS = ['/sys/kernel/btf', '/sys/kernel/tracing', '/sys/fs/cgroup'];

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

interface ServiceMonitor extends KubeObject {
  spec: {
    selector: { matchLabels: Record<string, string> };
    namespaceSelector: { matchNames: string[] };
    endpoints: {
      port: string;
      path: string;
      relabelings?: { sourceLabels?: string[]; targetLabel?: string; action?: string; regex?: string }[];
    }[];
  };
}

interface Kustomization {
  resources: string[];
  patches?: { path: string; target: { kind: string; name: string } }[];
}

interface JsonPatchOp {
  op: string;
  path: string;
  value?: unknown;
}

function parseYaml(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS() as unknown;
  });
}

function kustomization(dir: string, fields: string[]): Kustomization {
  const [k] = parseYaml(path.join(dir, 'kustomization.yaml')) as (Kustomization & Record<string, unknown>)[];
  // The rendering below knows resources and patches only: anything else would render differently.
  const unknown = Object.keys(k).filter((key) => !['apiVersion', 'kind', ...fields].includes(key));
  if (unknown.length) throw new Error(`${dir}/kustomization.yaml: this test does not render ${unknown.join(', ')}`);
  return k;
}

/** RFC 6902 `replace`, the only operation the overlay uses. */
function applyPatch(target: unknown, ops: JsonPatchOp[]): void {
  for (const { op, path: pointer, value } of ops) {
    if (op !== 'replace') throw new Error(`patch op ${op}: this test renders replace only`);
    const keys = pointer
      .split('/')
      .slice(1)
      .map((key) => key.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop()!;
    const parent = keys.reduce<Record<string, unknown>>(
      (node, key) => {
        if (typeof node[key] !== 'object' || node[key] === null) throw new Error(`patch path ${pointer}: no ${key}`);
        return node[key] as Record<string, unknown>;
      },
      target as Record<string, unknown>,
    );
    if (!(last in parent)) throw new Error(`patch path ${pointer}: nothing to replace`);
    parent[last] = value;
  }
}

function renderBase(): KubeObject[] {
  const { resources } = kustomization(BASE, ['resources']);
  const files = readdirSync(BASE).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  if (resources.slice().sort().join() !== files.sort().join()) {
    throw new Error(`base/kustomization.yaml lists ${resources.join(', ')} but base/ holds ${files.join(', ')}`);
  }
  return resources.flatMap((file) => parseYaml(path.join(BASE, file)) as KubeObject[]);
}

function renderPrivileged(): KubeObject[] {
  const { resources, patches = [] } = kustomization(PRIVILEGED, ['resources', 'patches']);
  if (resources.join() !== '../base') throw new Error(`privileged/ should build on ../base, not ${resources.join()}`);
  const objects = renderBase();
  for (const { path: file, target } of patches) {
    const matches = objects.filter((o) => o.kind === target.kind && o.metadata.name === target.name);
    if (matches.length !== 1) throw new Error(`patch ${file} matches ${matches.length} objects`);
    applyPatch(matches[0], parseYaml(path.join(PRIVILEGED, file))[0] as JsonPatchOp[]);
  }
  return objects;
}

const serviceMonitorObjects = (): KubeObject[] =>
  parseYaml(path.join(KUBERNETES, 'servicemonitor.yaml')) as KubeObject[];

// kubernetes-models and @kubernetes/client-node are ES modules answering
// `import` only, and TypeScript turns import() into require() in CommonJS.
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

/** Throws when `object` breaks its kind's OpenAPI schema. */
async function validateSchema(object: KubeObject): Promise<void> {
  const module = object.apiVersion.startsWith('monitoring.coreos.com/')
    ? `@kubernetes-models/prometheus-operator/${object.apiVersion}/${object.kind}`
    : `kubernetes-models/${object.apiVersion}/${object.kind}`;
  const exports = (await importEsm(module)) as Record<string, new (data: unknown) => { validate(): void }>;
  new exports[object.kind](object).validate();
}

type ModelIndex = Record<string, { attributeTypeMap?: { baseName: string; type: string }[] } | undefined>;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Fields the API does not know (kubectl apply rejects them; the schemas above
 * allow any extra field), found through @kubernetes/client-node's models.
 */
function unknownFields(value: unknown, type: string, models: ModelIndex, at: string): string[] {
  const element = /^Array<(.+)>$/.exec(type)?.[1];
  if (element)
    return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, element, models, `${at}[${i}]`)) : [];
  const mapValue = /^\{ \[key: string\]: (.+); \}$/.exec(type)?.[1];
  if (mapValue) {
    return isObject(value)
      ? Object.entries(value).flatMap(([k, v]) => unknownFields(v, mapValue, models, `${at}.${k}`))
      : [];
  }
  const fields = models[type]?.attributeTypeMap;
  if (!fields || !isObject(value)) return [];
  return Object.entries(value).flatMap(([key, v]) => {
    const field = fields.find((f) => f.baseName === key);
    return field ? unknownFields(v, field.type, models, `${at}.${key}`) : [`${at}.${key}`];
  });
}

function only<T extends KubeObject>(objects: KubeObject[], kind: string): T {
  const found = objects.filter((o) => o.kind === kind);
  if (found.length !== 1) throw new Error(`${found.length} objects of kind ${kind}`);
  return found[0] as T;
}

const agentContainer = (ds: V1DaemonSet): V1Container => ds.spec!.template.spec!.containers[0];

function includesLabels(labels: Record<string, string> | undefined, wanted: Record<string, string>): boolean {
  return Object.keys(wanted).length > 0 && Object.entries(wanted).every(([k, v]) => labels?.[k] === v);
}

const PROFILES = [
  { name: 'base (least privilege)', render: renderBase },
  { name: 'privileged overlay', render: renderPrivileged },
];

for (const { name, render } of PROFILES) {
  void t.test(`${name}: every object is valid and known to the API`, async (t) => {
    const objects = [...render(), ...serviceMonitorObjects()];
    const models = (await importEsm('@kubernetes/client-node')) as ModelIndex;
    for (const object of objects) {
      const id = `${object.kind}/${object.metadata.name}`;
      await t.resolves(validateSchema(object), `${id} matches its schema`);
      if (object.apiVersion.startsWith('monitoring.coreos.com/')) continue; // a CRD: not among the client's models
      t.same(unknownFields(object, `V1${object.kind}`, models, id), [], `${id} has no unknown field`);
    }
    const namespace = only(objects, 'Namespace').metadata.name;
    for (const object of objects.filter((o) => !['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind))) {
      t.equal(object.metadata.namespace, namespace, `${object.kind} in namespace ${namespace}`);
    }
  });

  void t.test(`${name}: the DaemonSet runs the agent as it expects`, (t) => {
    const objects = render();
    const ds = only<V1DaemonSet & KubeObject>(objects, 'DaemonSet');
    const pod = ds.spec!.template.spec!;
    t.ok(includesLabels(ds.spec!.template.metadata?.labels, ds.spec!.selector.matchLabels!), 'pods match the selector');
    t.equal(pod.containers.length, 1, 'one container');
    t.notOk(pod.hostPID || pod.hostNetwork || pod.hostIPC, 'no host PID, network or IPC namespace');
    t.ok(
      pod.tolerations?.some((tol) => tol.operator === 'Exists' && !tol.key && !tol.effect),
      'tolerates every taint: runs on every node',
    );

    const container = agentContainer(ds);
    t.notOk(container.command, 'the image entrypoint runs (kernscope)');
    const nodeNameVariable = SETTINGS.find((s) => s.key === 'nodeName')!.env;
    const nodeName = container.env?.find((e) => e.name === nodeNameVariable);
    t.equal(nodeName?.valueFrom?.fieldRef?.fieldPath, 'spec.nodeName', `${nodeNameVariable} from spec.nodeName`);
    const [subcommand, ...args] = container.args ?? [];
    t.equal(subcommand, 'run', 'kernscope run');
    const invocation = parseRunOptions(args, { [nodeNameVariable]: 'worker-1' });
    if (invocation === 'help') throw new Error('the arguments ask for help');
    t.equal(invocation.options.nodeName, 'worker-1', 'the agent takes the node name from the environment');

    const port = container.ports?.find((p) => p.name === 'metrics');
    t.equal(
      port?.containerPort,
      parseListen(invocation.options.listen).port,
      'port "metrics" is where the agent listens',
    );
    const probe = (action: V1HTTPGetAction | undefined): string => `${action?.path} on ${action?.port}`;
    t.equal(probe(container.livenessProbe?.httpGet), '/healthz on metrics', 'liveness: /healthz');
    t.equal(probe(container.startupProbe?.httpGet), '/healthz on metrics', 'startup: /healthz');
    t.equal(probe(container.readinessProbe?.httpGet), '/readyz on metrics', 'readiness: /readyz');
    for (const resource of ['cpu', 'memory']) {
      t.ok(container.resources?.requests?.[resource], `requests ${resource}`);
      t.ok(container.resources?.limits?.[resource], `limits ${resource}`);
    }
    const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    t.equal(container.image, `kernscope:${version}`, 'the image of this version');

    const security = container.securityContext;
    t.equal(security?.runAsUser, 0, 'uid 0');
    t.equal(security?.readOnlyRootFilesystem, true, 'read-only root filesystem');
    const mounts = container.volumeMounts ?? [];
    t.ok(
      mounts.every((m) => m.readOnly === true),
      'every mount read-only',
    );
    for (const hostPath of HOST_MOUNTS) {
      const mount = mounts.find((m) => m.mountPath === hostPath);
      const volume = pod.volumes?.find((v) => v.name === mount?.name);
      t.equal(volume?.hostPath?.path, hostPath, `host ${hostPath} at ${hostPath}`);
    }
    t.end();
  });
}

void t.test('least privilege: drop ALL, add exactly requiredCapabilities(default options)', (t) => {
  const security = agentContainer(only<V1DaemonSet & KubeObject>(renderBase(), 'DaemonSet')).securityContext;
  t.notOk(security?.privileged, 'not privileged');
  t.equal(security?.allowPrivilegeEscalation, false, 'no privilege escalation');
  t.same(security?.capabilities?.drop, ['ALL'], 'drops every capability');
  t.same(
    security?.capabilities?.add?.slice().sort(),
    requiredCapabilities(DEFAULT_OPTIONS).sort(),
    'adds the required',
  );
  t.end();
});

void t.test('privileged overlay: the same DaemonSet, privileged', (t) => {
  const base = only<V1DaemonSet & KubeObject>(renderBase(), 'DaemonSet');
  const privileged = only<V1DaemonSet & KubeObject>(renderPrivileged(), 'DaemonSet');
  t.equal(agentContainer(privileged).securityContext?.privileged, true, 'privileged');
  agentContainer(base).securityContext = undefined;
  agentContainer(privileged).securityContext = undefined;
  t.same(privileged, base, 'nothing else differs');
  t.end();
});

void t.test('RBAC: the agent may get, list and watch pods, nothing more', (t) => {
  const objects = renderBase();
  const account = only<V1ServiceAccount & KubeObject>(objects, 'ServiceAccount');
  const role = only<V1ClusterRole & KubeObject>(objects, 'ClusterRole');
  const binding = only<V1ClusterRoleBinding & KubeObject>(objects, 'ClusterRoleBinding');
  const ds = only<V1DaemonSet & KubeObject>(objects, 'DaemonSet');
  t.same(role.rules, [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }]);
  t.same(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
  t.same(binding.subjects, [
    { kind: 'ServiceAccount', name: account.metadata.name, namespace: account.metadata.namespace },
  ]);
  t.equal(ds.spec!.template.spec!.serviceAccountName, account.metadata.name, 'the pods run as that account');
  t.end();
});

void t.test('Service and ServiceMonitor find the agent pods and their metrics port', (t) => {
  const objects = renderBase();
  const ds = only<V1DaemonSet & KubeObject>(objects, 'DaemonSet');
  const service = only<V1Service & KubeObject>(objects, 'Service');
  const monitor = only<ServiceMonitor>(serviceMonitorObjects(), 'ServiceMonitor');
  t.ok(includesLabels(ds.spec!.template.metadata?.labels, service.spec!.selector!), 'the Service selects the pods');
  const servicePort = service.spec!.ports!.find((p) => p.name === 'metrics');
  t.equal(servicePort?.targetPort, 'metrics', 'the Service forwards to the pods\' port "metrics"');
  t.ok(
    includesLabels(service.metadata.labels, monitor.spec.selector.matchLabels),
    'the ServiceMonitor selects the Service',
  );
  t.same(monitor.spec.namespaceSelector.matchNames, [service.metadata.namespace], 'in its namespace');
  const [endpoint] = monitor.spec.endpoints;
  t.equal(endpoint.port, servicePort?.name, 'scrapes the Service port "metrics"');
  t.equal(endpoint.path, '/metrics');
  t.ok(
    endpoint.relabelings?.some(
      (r) =>
        r.sourceLabels?.join() === '__meta_kubernetes_pod_node_name' &&
        r.targetLabel === 'node' &&
        (r.action ?? 'replace') === 'replace',
    ),
    'the node name becomes label node',
  );
  // The operator's target labels of these names (the agent's own pod) would push the workload's aside.
  const drop = endpoint.relabelings?.find((r) => r.action === 'labeldrop');
  for (const label of ATTRIBUTION_LABELS) {
    t.match(label, new RegExp(`^(?:${drop?.regex})$`), `target label ${label} dropped: the agent's ${label} wins`);
  }
  t.end();
});
