# syntax=docker/dockerfile:1
# hotreload: build with the lockfile, then ship the bundle (dist/main.js: hotreload and the parts
# of its dependencies it uses, see scripts/build.ts) on the current Node LTS, as an unprivileged
# user. No node_modules in the image. CI (.ci/run) repeats these steps outside Docker.

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.ts ./scripts/build.ts
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim
ARG VERSION=dev
LABEL org.opencontainers.image.title="hotreload" \
      org.opencontainers.image.description="Sidecar that reloads applications when their mounted ConfigMaps and Secrets really change" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
# package.json gives the version, and "type": "module" makes dist/main.js an ES module.
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/dist ./dist
# `hotreload` on the PATH, for `command: [hotreload, ...]` in a pod spec and `kubectl exec`.
RUN ln -s /app/dist/main.js /usr/local/bin/hotreload
# Runs as a non-root user with no capabilities; writes nothing, so readOnlyRootFilesystem works.
USER 65532:65532
EXPOSE 9533
# The bundle itself is the command: its first line starts Node.js with the V8 flags hotreload is
# measured with (scripts/build.ts, NODE_FLAGS). `npm run bench` executes it the same way.
ENTRYPOINT ["hotreload"]
