// The image's HEALTHCHECK: the service's /ready on PORT (the AI worker and the
// migrate job serve no HTTP; compose and Kubernetes check those otherwise).
const port = process.env.PORT ?? '8080';
try {
  const response = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(2_000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
