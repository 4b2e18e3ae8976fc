// The pods of this node, from the Kubernetes API: one list, then a watch
// (field selector spec.nodeName), kept by @kubernetes/client-node's ListWatch,
// which re-lists when the watch expires (410) and re-watches when it ends. On
// an error it stops; we start it again after a pause, so an API server that
// restarts costs a gap, never the agent. Lookups are map reads: no API call
// per record.
import { existsSync } from 'node:fs';

import type { V1Pod } from '@kubernetes/client-node';

import type { Logger } from '../log';

export interface PodContainer {
  namespace: string;
  pod: string;
  podUid: string;
  /** Empty when the id is not one of the pod's containers (the pause container, a conmon). */
  container: string;
}

const RESTART_AFTER_ERROR_MS = 5000;
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** In a pod with a service account: the API is reachable the in-cluster way. */
export function inCluster(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.KUBERNETES_SERVICE_HOST !== undefined && existsSync(SERVICE_ACCOUNT_TOKEN);
}

/** `containerd://abc...` -> `abc...` */
function bareId(containerId: string | undefined): string | undefined {
  return containerId?.replace(/^[a-z-]+:\/\//, '');
}

export class PodWatch {
  private readonly pods = new Map<string, { namespace: string; name: string }>();
  private readonly containers = new Map<string, PodContainer>();
  private restartTimer?: NodeJS.Timeout;
  private stopped = false;
  /** Bumped whenever what the watch knows changes (caches keyed on it). */
  version = 0;

  private constructor(
    private readonly watch: { start(): Promise<void>; stop(): void },
    private readonly log: Logger,
  ) {}

  /**
   * Starts watching the pods of `nodeName`, through `kubeconfig` (a file) or
   * else the in-cluster service account. Resolves once the first list was
   * tried: one that failed is logged and tried again every few seconds.
   * Rejects only when the configuration cannot be loaded.
   */
  static async start(nodeName: string, log: Logger, kubeconfig?: string): Promise<PodWatch> {
    // Loaded only with an API to watch: the client is large and the agent does not need it elsewhere.
    const k8s = await import('@kubernetes/client-node');
    const config = new k8s.KubeConfig();
    if (kubeconfig) config.loadFromFile(kubeconfig);
    else config.loadFromCluster();
    const api = config.makeApiClient(k8s.CoreV1Api);
    const fieldSelector = `spec.nodeName=${nodeName}`;
    const listWatch = new k8s.ListWatch<V1Pod>(
      '/api/v1/pods',
      new k8s.Watch(config),
      () => api.listPodForAllNamespaces({ fieldSelector }),
      false,
      undefined,
      fieldSelector,
    );
    const watch = new PodWatch(listWatch, log);
    listWatch.on('add', (pod) => watch.upsert(pod));
    listWatch.on('update', (pod) => watch.upsert(pod));
    listWatch.on('delete', (pod) => watch.remove(pod));
    listWatch.on('error', (error) => watch.restartLater(error));
    await listWatch.start();
    log.info('watching pods', { node: nodeName, pods: watch.pods.size });
    return watch;
  }

  /** The pod and container of a container id (bare hex, as in cgroup paths). */
  container(id: string): PodContainer | undefined {
    return this.containers.get(id);
  }

  /** The namespace and name of a pod by UID. */
  pod(uid: string): { namespace: string; name: string } | undefined {
    return this.pods.get(uid);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    this.watch.stop();
  }

  private upsert(pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    this.remove(pod);
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    this.pods.set(uid, { namespace, name });
    const statuses = [
      ...(pod.status?.initContainerStatuses ?? []),
      ...(pod.status?.containerStatuses ?? []),
      ...(pod.status?.ephemeralContainerStatuses ?? []),
    ];
    for (const status of statuses) {
      const id = bareId(status.containerID);
      if (id) this.containers.set(id, { namespace, pod: name, podUid: uid, container: status.name });
    }
    this.version++;
  }

  private remove(pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid || !this.pods.delete(uid)) return;
    for (const [id, entry] of this.containers) if (entry.podUid === uid) this.containers.delete(id);
    this.version++;
  }

  private restartLater(error: unknown): void {
    if (this.stopped) return;
    this.log.warn('pod watch failed; retrying', {
      error: error instanceof Error ? error.message : String(error),
      retry_ms: RESTART_AFTER_ERROR_MS,
    });
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.watch.start().catch((e: unknown) => this.restartLater(e));
    }, RESTART_AFTER_ERROR_MS);
    this.restartTimer.unref();
  }
}
