# Ambit: one image for every process — the entrypoint is the `ambit` CLI, the Kubernetes manifests
# pick the command (controlplane | ztunnel | waypoint). Build: docker build -t ambit-mesh/ambit:0.1.0 .
# test/direct/dockerfile-build.test.ts runs the `build` and `runtime` stages' COPY/RUN steps in a
# clean folder (no docker needed); keep OS package installs in the `os` stage, which it skips.

# --- build: dev dependencies + tsc -> dist/
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && find dist -name '*.test.js*' -delete

# --- os: the runtime's OS packages. ztunnel's capture runs iptables-save / iptables-restore in the
# node's network namespace (as root with NET_ADMIN/NET_RAW, see manifests/base/ztunnel.yaml).
FROM node:20-bookworm-slim AS os
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iptables \
 && rm -rf /var/lib/apt/lists/*

# --- runtime: production dependencies and the compiled code, without tests and benchmarks.
FROM os AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/cli ./dist/cli
COPY --from=build /app/dist/shared ./dist/shared
COPY --from=build /app/dist/controlplane ./dist/controlplane
COPY --from=build /app/dist/ztunnel ./dist/ztunnel
COPY --from=build /app/dist/waypoint ./dist/waypoint
# The control plane's --waypoint-template.
COPY --from=build /app/manifests/waypoint ./manifests/waypoint
# The control plane and waypoints run as this user (uid 1000). ztunnel alone overrides it with
# runAsUser: 0 in its DaemonSet: iptables in the node's network namespace needs root.
USER node
EXPOSE 15008 15012 15020 15021
ENTRYPOINT ["node", "/app/dist/cli/ambit.js"]
CMD ["--help"]
