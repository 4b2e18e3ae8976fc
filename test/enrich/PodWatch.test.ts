// PodWatch through @kubernetes/client-node against a local server speaking the
// Kubernetes list/watch API: the first list, watch events, deletion, a watch
// the server ends (re-watch) and one it expires with 410 (re-list).
import t from 'tap';

import { PodWatch } from '../../src/enrich/PodWatch';
import { Logger } from '../../src/log';
import type { TestPod } from '../helpers/kubeApi';
import { KubeApi } from '../helpers/kubeApi';
import { waitFor } from '../helpers/teardown';

const hex = (digit: string): string => digit.repeat(64);
const pod = (n: number, node = 'node-a'): TestPod => ({
  uid: `00000000-0000-0000-0000-00000000000${n}`,
  namespace: 'shop',
  name: `web-${n}`,
  node,
  containers: { nginx: hex(String(n)) },
});

void t.test('pods of this node: listed, watched, deleted; watches that end or expire resume', async (t) => {
  const api = await KubeApi.start(t);
  api.put(pod(1));
  api.put(pod(2, 'node-b'));
  const watch = await PodWatch.start('node-a', new Logger('error'), api.kubeconfig);
  t.teardown(() => watch.stop());

  t.same(watch.container(hex('1')), { namespace: 'shop', pod: 'web-1', podUid: pod(1).uid, container: 'nginx' });
  t.same(watch.pod(pod(1).uid), { namespace: 'shop', name: 'web-1' }, 'from the first list');
  t.equal(watch.container(hex('2')), undefined, "another node's pod is not listed");
  t.match(api.requests[0], /fieldSelector=spec.nodeName%3Dnode-a/, 'the list asks for this node only');

  await waitFor('the watch', () => (api.openWatches === 1 ? true : undefined));
  api.put(pod(3));
  await waitFor('an added pod', () => watch.container(hex('3')));
  t.pass('a pod added after the list is known');

  api.endWatches();
  await waitFor('a new watch after the server ended it', () => (api.openWatches === 1 ? true : undefined));
  api.delete(pod(1).uid);
  await waitFor('the deletion', () => (watch.pod(pod(1).uid) === undefined ? true : undefined));
  t.equal(watch.container(hex('1')), undefined, 'a deleted pod and its containers are forgotten');

  const lists = api.requests.filter((r) => !r.includes('watch=true')).length;
  api.expireWatches();
  await waitFor('a re-list after 410', () =>
    api.requests.filter((r) => !r.includes('watch=true')).length > lists ? true : undefined,
  );
  await waitFor('a watch again', () => (api.openWatches === 1 ? true : undefined));
  api.put({ ...pod(3), containers: { nginx: hex('3'), sidecar: hex('4') } });
  await waitFor('a changed pod', () => watch.container(hex('4')));
  t.same(watch.container(hex('4'))?.container, 'sidecar', 'a container added to a pod is known');
});
