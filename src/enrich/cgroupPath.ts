// What a cgroup path says about its processes: the container (id and
// runtime) and pod it belongs to, or the systemd unit of a host process. The
// formats are those of the container runtimes and kubelet cgroup drivers:
//   systemd driver:  /kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope
//   cgroupfs driver: /kubepods/burstable/pod<uid>/<id>
//   CRI-O:           .../crio-<id>.scope        Docker: /system.slice/docker-<id>.scope, /docker/<id>
//   Podman:          /machine.slice/libpod-<id>.scope
// A cgroup v1 path (hybrid hierarchies) has the same shape under its controller.

export interface CgroupIdentity {
  /** 64 hex digits, as the runtime reports it in the pod status (`containerd://<id>`). */
  containerId?: string;
  runtime?: 'containerd' | 'cri-o' | 'docker' | 'podman';
  /** Pod UID with dashes, as in the API (`metadata.uid`). */
  podUid?: string;
  /** The systemd unit (`sshd.service`, `session-3.scope`) of a process outside containers. */
  unit?: string;
}

const CONTAINER_PATTERNS: readonly [RegExp, NonNullable<CgroupIdentity['runtime']>][] = [
  [/^cri-containerd-([0-9a-f]{64})\.scope$/, 'containerd'],
  [/^crio-([0-9a-f]{64})\.scope$/, 'cri-o'],
  [/^docker-([0-9a-f]{64})\.scope$/, 'docker'],
  [/^libpod-([0-9a-f]{64})\.scope$/, 'podman'],
];

/** `pod<uid>` (cgroupfs) or `kubepods-<qos>-pod<uid_with_underscores>.slice` (systemd). */
const POD_PATTERN = /(?:^|-)pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;

export function identify(cgroupPath: string): CgroupIdentity {
  const parts = cgroupPath.split('/').filter(Boolean);
  const identity: CgroupIdentity = {};
  for (const [index, part] of parts.entries()) {
    const pod = POD_PATTERN.exec(part);
    if (pod) identity.podUid = pod[1].replaceAll('_', '-');
    for (const [pattern, runtime] of CONTAINER_PATTERNS) {
      const match = pattern.exec(part);
      if (match) Object.assign(identity, { containerId: match[1], runtime });
    }
    // cgroupfs layouts name the container directory by its bare id: under a pod, or under /docker.
    const parent = parts[index - 1] ?? '';
    if (/^[0-9a-f]{64}$/.test(part) && (identity.podUid || parent === 'docker')) {
      identity.containerId = part;
      identity.runtime ??= parent === 'docker' ? 'docker' : undefined;
    }
  }
  if (!identity.containerId && !identity.podUid) {
    const unit = [...parts].reverse().find((p) => /\.(service|scope)$/.test(p));
    if (unit) identity.unit = unit;
  }
  return identity;
}
