# syntax=docker/dockerfile:1
# hotreload: build with the lockfile, ship only the compiled code and production dependencies on
# the current Node LTS, as an unprivileged user. CI (.ci/run) repeats these steps outside Docker.

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ARG VERSION=dev
LABEL org.opencontainers.image.title="hotreload" \
      org.opencontainers.image.description="Sidecar that reloads applications when their mounted ConfigMaps and Secrets really change" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# Runs as a non-root user with no capabilities; writes nothing, so readOnlyRootFilesystem works.
USER 65532:65532
EXPOSE 9533
ENTRYPOINT ["node", "/app/dist/main.js"]
