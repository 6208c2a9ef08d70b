import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requestWhole } from './datasource';

/** A subgraph stand-in whose answers each test shapes by path. */
let server: http.Server;
let base: string;
const sockets = new Set<string>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    sockets.add(`${req.socket.remotePort}`);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      if (req.url === '/echo') {
        res.writeHead(200, { 'Content-Type': 'application/json', 'X-Seen': req.headers['x-viewer'] ?? '' });
        const answer = Buffer.from(
          JSON.stringify({ data: { body, length: req.headers['content-length'] }, snow: '☃' }),
        );
        // Split inside the snowman's three bytes: the answer must still be read whole.
        const cut = answer.indexOf(Buffer.from('☃')) + 1;
        res.write(answer.subarray(0, cut));
        setTimeout(() => res.end(answer.subarray(cut)), 10);
      } else if (req.url === '/stall') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('{"data":');
      } else if (req.url === '/cut') {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '100' });
        res.write('{"data":');
        setTimeout(() => res.socket?.destroy(), 10);
      } else {
        res.writeHead(503, 'Busy', { 'Content-Type': 'text/plain' });
        res.end('busy');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** A port that was just free and has nothing listening on it. */
async function closedPort(): Promise<number> {
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const { port } = closed.address() as AddressInfo;
  await new Promise((resolve) => closed.close(resolve));
  return port;
}

const post = (path: string, timeoutMs = 2_000) =>
  requestWhole(
    `${base}${path}`,
    { method: 'POST', headers: { 'content-type': 'application/json', 'x-viewer': 'v1' }, body: '{"query":"{ é }"}' },
    timeoutMs,
  );

describe('requestWhole', () => {
  it('sends the body with its length and reads the whole answer, its status and headers', async () => {
    const answer = await post('/echo');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(answer.headers['x-seen']).toBe('v1');
    expect(JSON.parse(answer.body)).toEqual({
      data: { body: '{"query":"{ é }"}', length: String(Buffer.byteLength('{"query":"{ é }"}')) },
      snow: '☃',
    });
    // Kept alive: the next call goes over the same connection.
    const before = sockets.size;
    await post('/echo');
    expect(sockets.size).toBe(before);
  });

  it('answers an HTTP error with its status, text and body', async () => {
    const answer = await post('/other');
    expect({ status: answer.status, statusText: answer.statusText, body: answer.body }).toEqual({
      status: 503,
      statusText: 'Busy',
      body: 'busy',
    });
  });

  it('fails at the deadline when the body stops coming, however much of it came', async () => {
    // The request's own deadline, not a clock of the test's: its error names the time it was given.
    await expect(post('/stall', 200)).rejects.toMatchObject({
      name: 'TimeoutError',
      message: 'No answer within 200 ms',
    });
  });

  it('fails when the connection closes before the body ends', async () => {
    await expect(post('/cut')).rejects.toThrow();
  });

  it('fails when nothing answers', async () => {
    const port = await closedPort();
    await expect(
      requestWhole(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: {}, body: '{}' }, 1_000),
    ).rejects.toThrow();
  });

  it('refuses a request node:http cannot make, without a timer left to fail later', async () => {
    vi.useFakeTimers();
    try {
      // A header value with a newline is refused by http.request itself, before any request exists.
      await expect(
        requestWhole('http://127.0.0.1:9/graphql', { method: 'POST', headers: { 'x-bad': 'a\nb' }, body: '{}' }, 20),
      ).rejects.toThrow(/Invalid character/);
      // Past the deadline: before, its timer destroyed a request that was never made, an uncaught error.
      vi.advanceTimersByTime(50);
    } finally {
      vi.useRealTimers();
    }
  });

  it('calls an https: subgraph over TLS', async () => {
    // No TLS server here: the call is made and fails to connect, instead of node:http refusing the protocol.
    const port = await closedPort();
    await expect(
      requestWhole(`https://127.0.0.1:${port}/graphql`, { method: 'POST', headers: {}, body: '{}' }, 1_000),
    ).rejects.toThrow(/ECONNREFUSED/);
  });
});
