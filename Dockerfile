# hotreload: build with the lockfile, then ship the bundle (dist/main.js and the modules it loads:
# hotreload and the parts of its dependencies it uses, see scripts/build.ts) on the current Node LTS, as an unprivileged
# user. No node_modules and no package manager in the image: the runtime stage is Debian slim
# with Node's binary alone (no npm, npx, yarn, yarnpkg or corepack, which the node image carries).
# CI (.ci/run) repeats these steps outside Docker.

# The bundle is plain JavaScript, the same for every platform: it is built once, natively on the
# builder's platform, even when the image is built for another one (docker buildx --platform).
FROM --platform=$BUILDPLATFORM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.ts ./scripts/build.ts
COPY src ./src
RUN npm run build

# Node.js for the image's platform: only its binary is taken (it needs the C and C++ runtime
# libraries, which Debian slim has). Same Debian release as the runtime stage.
FROM node:24-bookworm-slim AS node

FROM debian:bookworm-slim
ARG VERSION=dev
LABEL org.opencontainers.image.title="hotreload" \
      org.opencontainers.image.description="Sidecar that reloads applications when their mounted ConfigMaps and Secrets really change" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
COPY --from=node /usr/local/bin/node /usr/local/bin/node
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
