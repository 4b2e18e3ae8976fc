// cgroup id -> the labels an SRE reads: namespace, pod and container.
//   a pod's container (API known):  namespace=default pod=web-7d4 container=nginx
//   a pod, no API (outside a cluster, or the pod not seen yet): pod=<uid>, container=<12-hex id>
//   a container outside Kubernetes: container=<12-hex id>
//   a host process:                 namespace=host pod="" container=<systemd unit, e.g. sshd.service,
//                                   else the cgroup's own name; "" in the root cgroup>
// Answers are cached per cgroup id and recomputed when the pod watch changes.
// OTLP gets the same series under OpenTelemetry's names (otelAttributes).
import type { Labels } from '../aggregate/MetricFamily';
import { identify } from './cgroupPath';
import type { CgroupPaths } from './CgroupPaths';
import type { PodWatch } from './PodWatch';

export const ATTRIBUTION_LABELS = ['namespace', 'pod', 'container'] as const;

export const HOST_NAMESPACE = 'host';

/** What resolving a cgroup gives: its labels and, for a container, its OpenTelemetry attributes. */
interface Resolved {
  labels: Labels;
  /** Semantic-convention k8s.* / container.id attributes; absent for host processes and unknown cgroups. */
  attributes?: Labels;
}

const labelsKey = (labels: Labels): string => ATTRIBUTION_LABELS.map((name) => labels[name]).join('\u0000');

export class Attribution {
  private cache = new Map<bigint, Labels>();
  /** The attributes of each cached label set (label sets are what series keep). */
  private attributes = new Map<string, Labels>();
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
      this.attributes.clear();
      this.cachedVersion = version;
    }
    let labels = this.cache.get(cgroupId);
    if (!labels) {
      const resolved = this.resolve(cgroupId);
      labels = resolved.labels;
      // An unknown id may be a cgroup not walked yet: ask again next time.
      if (labels.namespace !== '' || labels.container !== '') {
        this.cache.set(cgroupId, labels);
        if (resolved.attributes) this.attributes.set(labelsKey(labels), resolved.attributes);
      }
    }
    return labels;
  }

  /**
   * A series' labels for OTLP: namespace/pod/container of a container become
   * k8s.namespace.name, k8s.pod.name, k8s.pod.uid, k8s.container.name (or
   * container.id while its name is unknown); host processes and unknown
   * cgroups keep the Prometheus labels. Other labels pass unchanged.
   */
  otelAttributes(labels: Labels): Labels {
    const attributes = this.attributes.get(labelsKey(labels));
    if (!attributes) return labels;
    const rest = Object.fromEntries(
      Object.entries(labels).filter(([name]) => !(ATTRIBUTION_LABELS as readonly string[]).includes(name)),
    );
    return { ...rest, ...attributes };
  }

  private resolve(cgroupId: bigint): Resolved {
    const path = this.paths.pathOf(cgroupId);
    if (path === undefined) return { labels: { namespace: '', pod: '', container: '' } };
    const identity = identify(path);
    const { containerId, podUid } = identity;
    const known = containerId ? this.pods?.container(containerId) : undefined;
    if (known) {
      return {
        labels: { namespace: known.namespace, pod: known.pod, container: known.container },
        attributes: {
          'k8s.namespace.name': known.namespace,
          'k8s.pod.name': known.pod,
          'k8s.pod.uid': known.podUid,
          ...(known.container ? { 'k8s.container.name': known.container } : { 'container.id': containerId! }),
        },
      };
    }
    const pod = podUid ? this.pods?.pod(podUid) : undefined;
    const container = containerId?.slice(0, 12) ?? '';
    const containerAttribute: Labels = containerId ? { 'container.id': containerId } : {};
    if (pod) {
      return {
        labels: { namespace: pod.namespace, pod: pod.name, container },
        attributes: {
          'k8s.namespace.name': pod.namespace,
          'k8s.pod.name': pod.name,
          'k8s.pod.uid': podUid!,
          ...containerAttribute,
        },
      };
    }
    if (podUid) {
      return {
        labels: { namespace: '', pod: podUid, container },
        attributes: { 'k8s.pod.uid': podUid, ...containerAttribute },
      };
    }
    if (containerId) return { labels: { namespace: '', pod: '', container }, attributes: containerAttribute };
    return {
      labels: { namespace: HOST_NAMESPACE, pod: '', container: identity.unit ?? path.split('/').pop() ?? '' },
    };
  }
}
