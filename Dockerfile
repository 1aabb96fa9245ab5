# syntax=docker/dockerfile:1.7
# One image per service, built from this single Dockerfile:
#   docker build --build-arg SERVICE=auth     -t ghcr.io/stocklab/auth:0.1.0 .
#   docker build --build-arg SERVICE=backtest -t ghcr.io/stocklab/backtest:0.1.0 .   (API and worker)
#   docker build --build-arg SERVICE=trading  -t ghcr.io/stocklab/trading:0.1.0 .
# Each image runs `node dist/bundle/main.js` (and `node dist/bundle/migrate.js` for the migration Job);
# the backtest image also runs `node dist/bundle/worker.js`.

# Node 24 LTS, pinned to an exact release and Debian variant (never a floating tag).
ARG NODE_IMAGE=node:24.20.0-trixie-slim

# ---- build: every workspace's dev dependencies, then nx builds the service and the libs it needs
FROM ${NODE_IMAGE} AS build
ARG SERVICE
RUN test -n "${SERVICE}" || (echo "--build-arg SERVICE=auth|backtest|trading is required" && exit 1)
WORKDIR /app
COPY package.json package-lock.json nx.json tsconfig.base.json ./
COPY libs/ libs/
COPY services/ services/
# the bundler each service's build runs after tsc (scripts/lib/bundle-service.mjs)
COPY scripts/lib/bundle-service.mjs scripts/lib/bundle-externals.json scripts/lib/
RUN npm ci --no-audit --no-fund
RUN npx nx run "@stocklab/${SERVICE}:build" --outputStyle=static

# ---- prune: this service's production dependency closure, resolved from package-lock.json (no
# devDependencies, no optional peers, no @types), its workspaces' build output only; everything
# else goes (other workspaces and their links, .bin, the lockfile, nx state). Not `npm ci --omit=dev
# --workspace`: that keeps test-support (with s3rver and the S3 SDK), typescript and @types/node,
# and links workspaces that are not copied. Checked by libs/deploy-checks (test/image-contents).
FROM build AS prune
ARG SERVICE
RUN node libs/deploy-checks/src/image-prune.ts "services/${SERVICE}"

# ---- runtime: no compiler, no dev dependencies, no source, non-root
FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
ENV NODE_ENV=production
# transparent huge pages for the market's large columns (libs/platform SERVICE_PROCESS_ENV)
ENV GLIBC_TUNABLES=glibc.malloc.hugetlb=1
WORKDIR /app
COPY --from=prune --chown=root:root /app /app
WORKDIR /app/services/${SERVICE}
# V8's code cache of what every process of the image loads (the bundled entry points: NestJS, TypeORM,
# the AWS SDK and the service's own code; pg and the other packages left outside the bundles),
# compiled once here instead of in every pod at start (libs/platform warm-compile-cache.ts: each
# entry runs until it refuses a deliberately invalid configuration). Node keeps one folder per user
# id in it, so it is written as the user the processes run as; at run time they read it (and,
# read-only, write nothing). The backtest image also has the worker and its backtest threads.
ENV NODE_COMPILE_CACHE=/app/.node-compile-cache
RUN install -d -o node -g node /app/.node-compile-cache
# the image's unprivileged user (uid 1000); the files above stay owned by root, read-only to it
USER node
RUN node /app/libs/platform/dist/bootstrap/warm-compile-cache.js --entry dist/bundle/main.js --entry dist/bundle/migrate.js \
    $(test ! -f dist/bundle/worker.js || echo --entry dist/bundle/worker.js dist/bundle/backtest-thread.js) pg
EXPOSE 3001 3002 3003
CMD ["node", "dist/bundle/main.js"]
