// A local HTTP server speaking the Kubernetes API's list and watch for pods,
// shaped like a real API server's responses: GET /api/v1/pods returns a
// PodList with metadata.resourceVersion (filtered by the spec.nodeName field
// selector); with watch=true it streams newline-delimited watch events
// ({"type":"ADDED","object":Pod}) on a chunked response that stays open. The
// test adds, changes and deletes pods, ends the watches (as an API server does
// at its timeout), or expires them with a 410 Status event.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

import type { HasTeardown } from './teardown';

export interface TestPod {
  uid: string;
  namespace: string;
  name: string;
  node: string;
  /** Container name -> id (bare hex; sent as containerd://id). */
  containers: Record<string, string>;
}

export class KubeApi {
  private readonly pods = new Map<string, TestPod>();
  private readonly watches = new Set<ServerResponse>();
  private resourceVersion = 100;
  /** Each request's path and query, in order. */
  readonly requests: string[] = [];

  private constructor(readonly kubeconfig: string) {}

  static async start(t: HasTeardown): Promise<KubeApi> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kernscope-kube-'));
    const holder: { api?: KubeApi } = {};
    const server = createServer((req, res) => holder.api?.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const kubeconfig = path.join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: test, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]`,
        'users: [{name: test, user: {token: test-token}}]',
        'contexts: [{name: test, context: {cluster: test, user: test}}]',
        'current-context: test',
      ].join('\n'),
    );
    const api = new KubeApi(kubeconfig);
    holder.api = api;
    t.teardown(async () => {
      api.endWatches();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    });
    return api;
  }

  get openWatches(): number {
    return this.watches.size;
  }

  /** Adds or changes a pod; open watches see ADDED or MODIFIED. */
  put(pod: TestPod): void {
    const type = this.pods.has(pod.uid) ? 'MODIFIED' : 'ADDED';
    this.pods.set(pod.uid, pod);
    this.send(type, pod);
  }

  delete(uid: string): void {
    const pod = this.pods.get(uid);
    if (!pod) return;
    this.pods.delete(uid);
    this.send('DELETED', pod);
  }

  /** Ends every open watch, as an API server does when a watch times out. */
  endWatches(): void {
    for (const res of this.watches) res.end();
    this.watches.clear();
  }

  /** Tells every open watch its resource version is too old (410), then ends it: the client must list again. */
  expireWatches(): void {
    const status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Expired', code: 410 };
    for (const res of this.watches) res.write(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
    this.endWatches();
  }

  private podObject(pod: TestPod): object {
    return {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: {
        name: pod.name,
        namespace: pod.namespace,
        uid: pod.uid,
        resourceVersion: String(this.resourceVersion),
      },
      spec: { nodeName: pod.node, containers: Object.keys(pod.containers).map((name) => ({ name, image: 'x' })) },
      status: {
        phase: 'Running',
        containerStatuses: Object.entries(pod.containers).map(([name, id]) => ({
          name,
          containerID: `containerd://${id}`,
          ready: true,
          restartCount: 0,
          image: 'x',
          imageID: 'x',
        })),
      },
    };
  }

  private send(type: string, pod: TestPod): void {
    this.resourceVersion++;
    const line = `${JSON.stringify({ type, object: this.podObject(pod) })}\n`;
    for (const res of this.watches) if (res.req.url?.includes(encodeURIComponent(pod.node))) res.write(line);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push(`${url.pathname}${url.search}`);
    if (url.pathname !== '/api/v1/pods') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Status","code":404}');
      return;
    }
    const node = /^spec\.nodeName=(.*)$/.exec(url.searchParams.get('fieldSelector') ?? '')?.[1];
    const pods = [...this.pods.values()].filter((p) => node === undefined || p.node === node);
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.flushHeaders();
      this.watches.add(res);
      res.on('close', () => this.watches.delete(res));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        kind: 'PodList',
        apiVersion: 'v1',
        metadata: { resourceVersion: String(this.resourceVersion) },
        items: pods.map((p) => this.podObject(p)),
      }),
    );
  }
}
