# syntax=docker/dockerfile:1
# astraflow-worker container image.
#   docker build -t astraflow-worker .
#   docker run --rm -e ASTRA_WORKER_SCHEDULER_WS_URL=wss://scheduler.example/ws/worker \
#     -e ASTRA_WORKER_AUTH_TOKEN=... -p 9464:9464 astraflow-worker
# Stage 1 builds the monorepo and `pnpm deploy`s the CLI with its production dependencies
# only; stage 2 is that folder on a slim Node 24 base, run as the unprivileged `node` user.

ARG NODE_IMAGE=node:24-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
# The pnpm version pinned in package.json (packageManager), without relying on corepack.
COPY package.json ./
RUN npm install -g "pnpm@$(node -p "require('./package.json').packageManager.split('@')[1]")"
COPY . .
RUN pnpm install --frozen-lockfile
RUN pnpm exec turbo run build --filter=@astraflow/worker-cli...
# --legacy: deploys without inject-workspace-packages; each workspace package contributes its
# published `files` (dist, README, LICENSE), as from npm.
RUN pnpm --filter @astraflow/worker-cli deploy --legacy --prod /out

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    ASTRA_WORKER_HTTP_ENABLED=true \
    ASTRA_WORKER_HTTP_HOST=0.0.0.0 \
    ASTRA_WORKER_HTTP_PORT=9464 \
    ASTRA_WORKER_PACKAGES_DIR=/var/lib/astraflow/node-packages \
    ASTRA_WORKER_DATA_DIR=/var/lib/astraflow/data
# Application files stay root-owned (read-only to the worker); only its state folder is writable.
COPY --from=build /out /opt/astraflow-worker
RUN mkdir -p /var/lib/astraflow && chown node:node /var/lib/astraflow
USER node
WORKDIR /var/lib/astraflow
VOLUME ["/var/lib/astraflow"]
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form, node itself as PID 1: SIGTERM reaches the worker, which installs its own handlers
# (a shell or package-manager wrapper would swallow it). Kubernetes and `docker stop` send SIGTERM.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/opt/astraflow-worker/bin/astraflow-worker.js"]
CMD []
