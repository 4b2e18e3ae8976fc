// cgroup paths as container runtimes and kubelet cgroup drivers write them
// (taken from real nodes: kubeadm/containerd with the systemd driver, k3s with
// cgroupfs, OpenShift/CRI-O, kind, Docker and Podman hosts, systemd hosts).
import t from 'tap';

import { identify } from '../../src/enrich/cgroupPath';

const ID = '7c5cbdc8b9e36b1d8c1ce9c2c5bb1a6c3a6b2f7e0c39e0a2dbd3e3f0f4c2a1b9';
const UID = '3b6c1c7e-6a3e-4f1d-9a8c-2e4f5d6a7b8c';
const UID_ = UID.replaceAll('-', '_');

void t.test('container, pod and unit from each format', (t) => {
  const cases: [string, string, object][] = [
    [
      'containerd, systemd driver',
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`,
      { containerId: ID, runtime: 'containerd', podUid: UID },
    ],
    [
      'containerd, systemd driver, guaranteed QoS (no QoS slice)',
      `/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope`,
      { containerId: ID, runtime: 'containerd', podUid: UID },
    ],
    ['containerd, cgroupfs driver (k3s)', `/kubepods/besteffort/pod${UID}/${ID}`, { containerId: ID, podUid: UID }],
    [
      'CRI-O, systemd driver',
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-${ID}.scope`,
      { containerId: ID, runtime: 'cri-o', podUid: UID },
    ],
    [
      'CRI-O conmon: the pod, no container',
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-conmon-${ID}.scope`,
      { podUid: UID },
    ],
    [
      'kind (kubelet cgroup root under kubelet.slice)',
      `/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`,
      { containerId: ID, runtime: 'containerd', podUid: UID },
    ],
    [
      'dockershim, systemd driver',
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/docker-${ID}.scope`,
      { containerId: ID, runtime: 'docker', podUid: UID },
    ],
    ['Docker, systemd driver', `/system.slice/docker-${ID}.scope`, { containerId: ID, runtime: 'docker' }],
    ['Docker, cgroupfs driver', `/docker/${ID}`, { containerId: ID, runtime: 'docker' }],
    ['Podman', `/machine.slice/libpod-${ID}.scope`, { containerId: ID, runtime: 'podman' }],
    ['a pod cgroup itself (pause)', `/kubepods/burstable/pod${UID}`, { podUid: UID }],
    ['a systemd service', '/system.slice/sshd.service', { unit: 'sshd.service' }],
    ['a login session', '/user.slice/user-1000.slice/session-3.scope', { unit: 'session-3.scope' }],
    ['the kubelet', '/system.slice/kubelet.service', { unit: 'kubelet.service' }],
    ['the root cgroup', '/', {}],
  ];
  for (const [what, path, identity] of cases) t.same(identify(path), identity, what);
  t.end();
});
