# syntax=docker/dockerfile:1
# Multi-stage: build with dev dependencies, run compiled JavaScript with
# production dependencies only, as the unprivileged `node` user.
FROM node:22-bookworm-slim AS build
# better-sqlite3 is a native addon: npm takes its prebuilt binary when one is
# published for this Node and platform, and compiles it with these otherwise.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY actors ./actors
COPY tracing ./tracing
COPY server ./server
COPY client-sim ./client-sim
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:22-bookworm-slim
# The SQLite database lives on the /data volume; set DATABASE_URL=postgres://... to use PostgreSQL instead.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATABASE_URL=sqlite:/data/guildhall.db
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/server/main.js"]
