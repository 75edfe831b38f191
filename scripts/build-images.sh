#!/usr/bin/env bash
# The saga's container images, built with docker, podman or buildah (whichever is present):
# the shared base (Dockerfile.base) and the five services (services/Dockerfile, once per
# service with --build-arg SERVICE=<name>), all from the repository root as build context.
#
#   scripts/build-images.sh [build]           build base-uv, base and the five services
#   scripts/build-images.sh kind-load NAME    load the five service images into kind cluster NAME
#   scripts/build-images.sh list              print the five service image references
#
# Settings, from the environment (the Makefile passes its own):
#   IMAGE_PREFIX  saga/                      images are <prefix><name>:<tag>
#   IMAGE_TAG     0.1.0
#   BASE_IMAGE    Dockerfile.base's default  the Python image under everything (by
#                                            default python:3.11-slim-bookworm, by digest)
#   BUILDER       docker | podman | buildah  to choose instead of the first one found
#   BUILD_FLAGS   extra flags for every build, e.g. "--isolation chroot --network host"
set -euo pipefail
cd "$(dirname "$0")/.."

SERVICES=(booking manager billing payment invoice)
IMAGE_PREFIX=${IMAGE_PREFIX:-saga/}
IMAGE_TAG=${IMAGE_TAG:-0.1.0}
# Empty: Dockerfile.base's own default, the one place that names (and pins) it.
BASE_IMAGE=${BASE_IMAGE:-}
read -r -a EXTRA_FLAGS <<<"${BUILD_FLAGS:-}"

have() { command -v "$1" >/dev/null 2>&1; }
image() { echo "${IMAGE_PREFIX}$1:${IMAGE_TAG}"; }

builder() {
  if [ -n "${BUILDER:-}" ]; then
    echo "$BUILDER"
  elif have docker && docker info >/dev/null 2>&1; then
    echo docker # a docker client without a running engine does not count
  elif have podman; then
    echo podman
  elif have buildah; then
    echo buildah
  else
    echo "No container builder found: install docker, podman or buildah" \
      "(scripts/ensure-tools.sh installs buildah on Debian/Ubuntu)" >&2
    return 1
  fi
}

# build TAG DOCKERFILE [FLAGS...]: one image, with layer caching on every builder.
# --force-rm: without it buildah 1.28 keeps a working container per `FROM image AS stage`.
build() {
  local tag=$1 dockerfile=$2 started=$SECONDS
  shift 2
  echo "==> $tag ($dockerfile, $BUILDER)"
  case $BUILDER in
    docker) docker build "${EXTRA_FLAGS[@]}" -f "$dockerfile" -t "$tag" "$@" . ;;
    podman) podman build --layers --force-rm "${EXTRA_FLAGS[@]}" -f "$dockerfile" -t "$tag" "$@" . ;;
    buildah) buildah bud --layers --force-rm "${EXTRA_FLAGS[@]}" -f "$dockerfile" -t "$tag" "$@" . ;;
    *) echo "Unknown BUILDER=$BUILDER (docker, podman or buildah)" >&2 && return 1 ;;
  esac
  echo "==> $tag built in $((SECONDS - started))s"
}

build_all() {
  local base=()
  [ -z "$BASE_IMAGE" ] || base=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
  build "$(image base-uv)" Dockerfile.base --target uv "${base[@]}"
  build "$(image base)" Dockerfile.base "${base[@]}"
  local name
  for name in "${SERVICES[@]}"; do
    build "$(image "$name")" services/Dockerfile --build-arg "SERVICE=$name" \
      --build-arg "BASE_IMAGE=$(image base)" --build-arg "UV_IMAGE=$(image base-uv)"
  done
  echo "==> built in ${SECONDS}s: $(for name in "${SERVICES[@]}"; do printf '%s ' "$(image "$name")"; done)"
}

# The reference containerd inside kind resolves a pod's image to: a short Docker Hub name
# (saga/booking:0.1.0) becomes docker.io/saga/booking:0.1.0.
full_reference() {
  local ref=$1 first=${1%%/*}
  if [[ $ref == */* && ($first == *.* || $first == *:* || $first == localhost) ]]; then
    echo "$ref"
  elif [[ $ref == */* ]]; then
    echo "docker.io/$ref"
  else
    echo "docker.io/library/$ref"
  fi
}

kind_load() {
  local cluster=$1 name ref archive refs=()
  have kind || { echo "kind is not installed: https://kind.sigs.k8s.io/docs/user/quick-start/" >&2; return 1; }
  if [ "$BUILDER" = docker ]; then
    for name in "${SERVICES[@]}"; do refs+=("$(image "$name")"); done
    kind load docker-image --name "$cluster" "${refs[@]}"
    return
  fi
  # podman and buildah keep images in their own store: go through a docker-archive whose
  # tag is the reference the pods ask for.
  archive=$(mktemp -d)
  trap 'rm -rf "$archive"' EXIT
  for name in "${SERVICES[@]}"; do
    ref=$(full_reference "$(image "$name")")
    case $BUILDER in
      podman) podman tag "$(image "$name")" "$ref" && podman save --format docker-archive -o "$archive/$name.tar" "$ref" ;;
      buildah) buildah push "$(image "$name")" "docker-archive:$archive/$name.tar:$ref" ;;
    esac
    kind load image-archive --name "$cluster" "$archive/$name.tar"
  done
}

command=${1:-build}
case $command in
  build) BUILDER=$(builder) && build_all ;;
  kind-load) BUILDER=$(builder) && kind_load "${2:?usage: $0 kind-load CLUSTER}" ;;
  list) for name in "${SERVICES[@]}"; do image "$name"; done ;;
  *) echo "usage: $0 [build | kind-load CLUSTER | list]" >&2 && exit 2 ;;
esac
