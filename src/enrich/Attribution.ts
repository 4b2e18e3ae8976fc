// cgroup id -> the labels an SRE reads: namespace, pod and container.
//   a pod's container (API known):  namespace=default pod=web-7d4 container=nginx
//   a pod, no API (outside a cluster, or the pod not seen yet): pod=<uid>, container=<12-hex id>
//   a container outside Kubernetes: container=<12-hex id>
//   a host process:                 namespace=host pod="" container=<systemd unit, e.g. sshd.service,
//                                   else the cgroup's own name; "" in the root cgroup>
// Answers are cached per cgroup id and recomputed when the pod watch changes.
import type { Labels } from '../aggregate/MetricFamily';
import { identify } from './cgroupPath';
import type { CgroupPaths } from './CgroupPaths';
import type { PodWatch } from './PodWatch';

export const ATTRIBUTION_LABELS = ['namespace', 'pod', 'container'] as const;

export const HOST_NAMESPACE = 'host';

export class Attribution {
  private cache = new Map<bigint, Labels>();
  private cachedVersion = -1;

  constructor(
    private readonly paths: CgroupPaths,
    private pods?: PodWatch,
  ) {}

  /** Pod and container names from now on (the watch starts after the probes). */
  usePods(pods: PodWatch): void {
    this.pods = pods;
    this.cachedVersion = -1;
  }

  labels(cgroupId: bigint): Labels {
    const version = this.pods?.version ?? 0;
    if (version !== this.cachedVersion) {
      this.cache.clear();
      this.cachedVersion = version;
    }
    let labels = this.cache.get(cgroupId);
    if (!labels) {
      labels = this.resolve(cgroupId);
      // An unknown id may be a cgroup not walked yet: ask again next time.
      if (labels.namespace !== '' || labels.container !== '') this.cache.set(cgroupId, labels);
    }
    return labels;
  }

  private resolve(cgroupId: bigint): Labels {
    const path = this.paths.pathOf(cgroupId);
    if (path === undefined) return { namespace: '', pod: '', container: '' };
    const identity = identify(path);
    const known = identity.containerId ? this.pods?.container(identity.containerId) : undefined;
    if (known) return { namespace: known.namespace, pod: known.pod, container: known.container };
    const pod = identity.podUid ? this.pods?.pod(identity.podUid) : undefined;
    const container = identity.containerId?.slice(0, 12) ?? '';
    if (pod) return { namespace: pod.namespace, pod: pod.name, container };
    if (identity.podUid) return { namespace: '', pod: identity.podUid, container };
    if (identity.containerId) return { namespace: '', pod: '', container };
    return { namespace: HOST_NAMESPACE, pod: '', container: identity.unit ?? path.split('/').pop() ?? '' };
  }
}
