# syntax=docker/dockerfile:1
# One image for every Memegraph service: `docker run memegraph router|users|memes|ai|ai-worker|migrate`.
# The build stage runs deploy/image/build.sh, the same script CI runs through
# scripts/verify-production.sh (there is no Docker daemon there), so what this
# image holds is what CI starts and queries.

FROM node:20-slim AS build
WORKDIR /src
COPY . .
RUN bash deploy/image/build.sh /src /app

FROM node:20-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
# Owned by root and read-only to the service's user: the image needs no writes (PostgreSQL and Redis hold the state).
COPY --from=build /app /app
USER node
EXPOSE 8080
# The services drain on SIGTERM (stop accepting, finish in-flight requests, close pools).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["node", "/app/deploy/image/healthcheck.mjs"]
ENTRYPOINT ["/app/deploy/image/entrypoint.sh"]
CMD ["router"]
