# syntax=docker/dockerfile:1
# The sinkron node image: one Bun process per container, configured by SINKRON_* variables.
# Not built on the project's CI machine (it has no Docker engine); see docs/docker.md.
# Build: docker build -t sinkron .     Run: docker run -p 7001:7001 -v sinkron-data:/data sinkron

# Keep in step with the "bun" version in package.json (node_modules/bun/package.json).
ARG BUN_VERSION=1.4.5
ARG NODE_VERSION=22

# ---- dependencies -----------------------------------------------------------------------------
# The lockfile is npm's (package-lock.json), so npm installs from it: `npm ci` reproduces exactly
# the tree CI tests. `bun install` would first migrate the lockfile with its own resolver, which
# could pick a different tree. Flags:
#   --omit=dev       no TypeScript, no type packages
#   --omit=optional  no @oven/bun-* binary (the runtime image has its own Bun) and no
#                    msgpackr-extract (msgpackr falls back to its pure-JS decoder: same values)
#   --ignore-scripts no postinstall downloads; nothing here needs a build step
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/bun node_modules/.bin/bun node_modules/.bin/bunx

# ---- runtime ----------------------------------------------------------------------------------
FROM oven/bun:${BUN_VERSION}-slim AS runtime
WORKDIR /app

# A fixed, unprivileged user: files in /app stay root-owned (read-only to the node), only /data
# is writable. Named volumes copy this ownership when first mounted.
RUN groupadd --system --gid 10001 sinkron \
 && useradd --system --uid 10001 --gid sinkron --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin sinkron \
 && mkdir -p /data \
 && chown sinkron:sinkron /data

COPY --from=deps /app/node_modules ./node_modules
# Sources only: .dockerignore keeps out node_modules, tests, data and local clutter.
COPY . .

# Defaults make `docker run sinkron` a one-node cluster; compose.yaml sets a 3-node one.
# An empty variable counts as unset (no token, no Redis).
# BUN_RUNTIME_TRANSPILER_CACHE_PATH=0: the user has no home to cache transpiled files in.
ENV NODE_ENV=production \
    BUN_RUNTIME_TRANSPILER_CACHE_PATH=0 \
    SINKRON_ID=n1 \
    SINKRON_LISTEN=0.0.0.0:7001 \
    SINKRON_HTTP=0.0.0.0:8001 \
    SINKRON_DATA=/data \
    SINKRON_PEERS= \
    SINKRON_REDIS= \
    SINKRON_TOKEN=

USER sinkron:sinkron
VOLUME /data
# 7001: the framed protocol (clients, peers, REPL). 8001: HTTP API, /health, /metrics.
EXPOSE 7001 8001

# Healthy = the node answers PING on its protocol port. No curl in the image, so Bun does it:
# send the golden PING frame [1, "PING", {}] and expect exactly [1, "OK", "PONG"] back
# (protocol/vectors/frames.json). PING is allowed before HELLO, so this works with a token too.
# When the HTTP API lands, /health (leader known) is the better check, see docs/docker.md.
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
  CMD ["bun", "-e", "const port=Number((process.env.SINKRON_LISTEN||'').split(':').pop())||7001;const want='0000000a9301a24f4ba4504f4e47';let got='';setTimeout(()=>process.exit(1),3000);Bun.connect({hostname:'127.0.0.1',port,socket:{open(s){s.write(Buffer.from('000000089301a450494e4780','hex'))},data(s,d){got+=Buffer.from(d).toString('hex');if(got.length>=want.length)process.exit(got.startsWith(want)?0:1)},close(){process.exit(1)},error(){process.exit(1)}}}).catch(()=>process.exit(1))"]

# The node handles SIGTERM itself: it flushes answers in flight and closes (docker stop).
STOPSIGNAL SIGTERM
ENTRYPOINT ["bun", "src/cli/main.ts", "node"]
CMD []
