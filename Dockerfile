# syntax=docker/dockerfile:1
# Build stage: compile TypeScript with the full dev toolchain.
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY common ./common
COPY coordinator ./coordinator
COPY volume ./volume
COPY cli ./cli
COPY proto ./proto
COPY scripts ./scripts
RUN npm run build

# Runtime stage: production dependencies and compiled output only, run as a non-root user.
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY proto ./proto
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# Coordinators: 5000 HTTP, 5001 gRPC. Volumes: 6000 HTTP, 6001 gRPC.
EXPOSE 5000 5001 6000 6001
# The servers' environment (common/node-flags.ts, SERVER_ENV).
ENV MALLOC_MMAP_THRESHOLD_=4194304
ENV MALLOC_TOP_PAD_=1048576
ENV MALLOC_ARENA_MAX=2
# The coordinators' V8 flags (common/node-flags.ts, SERVER_NODE_FLAGS; node refuses one of them
# in NODE_OPTIONS); docker-compose.yml gives the volumes their own entrypoint.
ENTRYPOINT ["node", "--max-semi-space-size=8", "--initial-old-space-size=128"]
CMD ["dist/cli/main.js", "--help"]
