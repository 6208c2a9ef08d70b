/**
 * Where traced routers send their spans during a bench run (--tracing): an
 * OTLP/HTTP receiver that reads each export to its end, counts its bytes and
 * answers it, keeping nothing. In a process of its own, so that receiving
 * spans costs neither the router under test nor the load generator.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runBenchChild } from '../lib/child';

await runBenchChild(async () => {
  const received = { exports: 0, bytes: 0 };
  const server = http.createServer((req, res) => {
    req.on('data', (chunk: Buffer) => {
      received.bytes += chunk.length;
    });
    req.once('end', () => {
      received.exports++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    info: { url: `http://127.0.0.1:${port}` },
    httpServers: [server],
    counters: () => ({ ...received }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
});
