/**
 * The ceiling: node:http answering every request with the exact bytes the
 * router answered the scenario's request with. Nothing a GraphQL server
 * does can be faster on this machine. Only node: modules, so its memory is
 * a bare Node process's.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runBenchChild } from '../lib/child';

// Configuration, read once: the response body (base64) and its content type.
const { BENCH_BODY_BASE64, BENCH_CONTENT_TYPE } = process.env;

await runBenchChild(async () => {
  if (!BENCH_BODY_BASE64) throw new Error('Invalid configuration:\n  BENCH_BODY_BASE64: required');
  const body = Buffer.from(BENCH_BODY_BASE64, 'base64');
  const headers = {
    'content-type': BENCH_CONTENT_TYPE ?? 'application/json; charset=utf-8',
    'content-length': String(body.length),
  };
  const server = http.createServer((req, res) => {
    // Read the request to its end, as a real server must before it can reuse the connection.
    req.resume();
    req.once('end', () => res.writeHead(200, headers).end(body));
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    info: { url: `http://127.0.0.1:${port}/graphql` },
    httpServers: [server],
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
});
