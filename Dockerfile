# syntax=docker/dockerfile:1
# One image for every twostep process; the command picks the app:
#   api        node dist/apps/api/src/main.js        (default)
#   projector  node dist/apps/projector/src/main.js   (rebuild: ... main.js rebuild)
#   mailer     node dist/apps/mailer/src/main.js
#   cli        node dist/apps/cli/src/main.js

FROM node:24-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 is a native module: the toolchain is only needed if no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
COPY test/bench ./test/bench
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    TWOSTEP_DATA_DIR=/var/lib/twostep \
    HOST=0.0.0.0
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json ./package.json
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
# The code is read-only for the app user; only the data dir (embedded mode, keys.json) is writable.
RUN mkdir -p /var/lib/twostep && chown node:node /var/lib/twostep
USER node
VOLUME ["/var/lib/twostep"]
EXPOSE 3000
# The api answers on PORT; projector and mailer answer on HEALTH_PORT when it is set (compose does).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const p=process.env.HEALTH_PORT||process.env.PORT||3000;fetch('http://127.0.0.1:'+p+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/apps/api/src/main.js"]
