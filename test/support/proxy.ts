import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** An HTTP proxy in front of one or more servers, whose behaviour a test changes while it runs. */
export interface TestProxy {
  /** The proxy's origin plus `path` (e.g. `/graphql`). */
  url(path?: string): string;
  /**
   * Set at any time: delay each request, drop its connection as a dead server would, or hold it
   * unanswered as a hung one would (until the caller gives up or the proxy closes).
   */
  behaviour: { delayMs: number; down: boolean; hang?: boolean };
  /** Requests held unanswered right now (`hang`) whose caller has not given up. */
  holding: number;
  /** Requests the proxy received, dropped ones included. */
  calls: number;
  /** Requests passed on to each target, in `targets` order. */
  served: number[];
  /** The path and headers of each request the proxy received, in order. */
  received: { path: string; headers: http.IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/** Starts a proxy on port 0 that passes requests to `targets` in turn (round-robin, as a load balancer would). */
export async function startProxy(targets: string[]): Promise<TestProxy> {
  const upstreams = targets.map((t) => new URL(t));
  let next = 0;
  const proxy: TestProxy = {
    url: (path = '') => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    behaviour: { delayMs: 0, down: false, hang: false },
    holding: 0,
    calls: 0,
    served: upstreams.map(() => 0),
    received: [],
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  const server = http.createServer((req, res) => {
    proxy.calls++;
    proxy.received.push({ path: req.url ?? '', headers: req.headers });
    if (proxy.behaviour.down) return req.socket.destroy();
    if (proxy.behaviour.hang) {
      proxy.holding++;
      res.on('close', () => proxy.holding--);
      return;
    }
    const index = next++ % upstreams.length;
    const target = upstreams[index]!;
    setTimeout(() => {
      proxy.served[index]!++;
      const upstream = http.request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    }, proxy.behaviour.delayMs);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return proxy;
}
