#!/usr/bin/env bash
# Build the pinned Go binaries Plinth's tests and local control plane use
# (Crossplane CLI and core, kube-apiserver, kube-controller-manager,
# provider-kubernetes, helm, etcd, actionlint) from the Go module proxy.
#
# `go install module@version` is refused by the proxy for github.com/crossplane
# modules (their version list is not served), so each binary is built from a
# small generated wrapper module: a go.mod with exact requires (and, for
# Kubernetes, a replace per staging module), a tools.go that blank-imports the
# main package under `//go:build tools`, `go mod tidy -e`, then `go build -o`.
# Wrapper modules live under the cache dir, never in the repository.
#
# Usage:
#   hack/build-tools.sh [--force] TARGET...   build targets (`all` = every target)
#   hack/build-tools.sh --print-path TARGET   print the binary's path on stdout,
#                                             building it first if missing
#   hack/build-tools.sh --list                list targets, versions and paths
#   hack/build-tools.sh --help
#
# Binaries: ${PLINTH_CACHE_DIR:-$HOME/.cache/plinth}/bin/<target>-<version>
# A binary that already exists is not rebuilt ("cached") unless --force.
# Progress and Go's output go to stderr; only --print-path/--list write stdout.
set -euo pipefail

# ---------------------------------------------------------------------------
# Pinned versions: the ONLY place versions are set.
CROSSPLANE_CLI_VERSION="v2.5.0"        # github.com/crossplane/cli/v2
CROSSPLANE_CORE_VERSION="v2.3.4"       # github.com/crossplane/crossplane/v2 (+ apis/v2)
KUBERNETES_VERSION="v1.34.4"           # k8s.io/kubernetes
KUBERNETES_STAGING_VERSION="v0.34.4"   # k8s.io/{api,apimachinery,...} staging modules
PROVIDER_KUBERNETES_VERSION="v1.2.1"   # github.com/crossplane-contrib/provider-kubernetes
HELM_VERSION="v3.22.0"                 # helm.sh/helm/v3
ETCD_VERSION="v3.7.3"                  # go.etcd.io/etcd/server/v3 (the local control plane's store)
ACTIONLINT_VERSION="v1.7.7"            # github.com/rhysd/actionlint (lints the service template's workflow)
MIN_GO_VERSION="1.26.0"                # highest `go` directive among the modules above
# ---------------------------------------------------------------------------

TARGETS=(crossplane crossplane-core kube-apiserver kube-controller-manager provider-kubernetes helm etcd actionlint)

CACHE_DIR="${PLINTH_CACHE_DIR:-$HOME/.cache/plinth}"
BIN_DIR="$CACHE_DIR/bin"
SRC_DIR="$CACHE_DIR/src"

log() { printf '[build-tools] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '/^# Usage:/,/^# Progress/p' "$0" | sed 's/^# \{0,1\}//' >&2
  printf 'Targets: %s\n' "${TARGETS[*]}" >&2
}

# target_spec NAME: set T_VERSION, T_MODULE (module whose go.mod supplies the
# go/godebug lines), T_REQUIRES (array of "module version"), T_PKG (main
# package), T_LDFLAGS and T_KIND (plain|kube|helm).
target_spec() {
  T_KIND=plain
  T_LDFLAGS="-s -w"
  case "$1" in
    crossplane)
      T_VERSION="$CROSSPLANE_CLI_VERSION"
      T_MODULE="github.com/crossplane/cli/v2"
      T_REQUIRES=("github.com/crossplane/cli/v2 $T_VERSION")
      T_PKG="github.com/crossplane/cli/v2/cmd/crossplane"
      T_LDFLAGS+=" -X github.com/crossplane/crossplane-runtime/v2/pkg/version.version=$T_VERSION"
      ;;
    crossplane-core)
      T_VERSION="$CROSSPLANE_CORE_VERSION"
      T_MODULE="github.com/crossplane/crossplane/v2"
      # core's own go.mod replaces apis/v2 with ./apis, which does not apply to
      # a dependency: require the published apis module at the same version.
      T_REQUIRES=("github.com/crossplane/crossplane/v2 $T_VERSION"
                  "github.com/crossplane/crossplane/apis/v2 $T_VERSION")
      T_PKG="github.com/crossplane/crossplane/v2/cmd/crossplane"
      # Without it core reports an empty version and refuses packages with a
      # spec.crossplane.version constraint.
      T_LDFLAGS+=" -X github.com/crossplane/crossplane-runtime/v2/pkg/version.version=$T_VERSION"
      ;;
    kube-apiserver|kube-controller-manager)
      T_VERSION="$KUBERNETES_VERSION"
      T_MODULE="k8s.io/kubernetes"
      T_REQUIRES=("k8s.io/kubernetes $T_VERSION")
      T_PKG="k8s.io/kubernetes/cmd/$1"
      T_KIND=kube   # replaces and version ldflags are added in build_target
      ;;
    provider-kubernetes)
      T_VERSION="$PROVIDER_KUBERNETES_VERSION"
      T_MODULE="github.com/crossplane-contrib/provider-kubernetes"
      T_REQUIRES=("$T_MODULE $T_VERSION")
      T_PKG="$T_MODULE/cmd/provider"
      T_LDFLAGS+=" -X $T_MODULE/internal/version.Version=$T_VERSION"
      ;;
    helm)
      T_VERSION="$HELM_VERSION"
      T_MODULE="helm.sh/helm/v3"
      T_REQUIRES=("helm.sh/helm/v3 $T_VERSION")
      T_PKG="helm.sh/helm/v3/cmd/helm"
      T_LDFLAGS+=" -X helm.sh/helm/v3/internal/version.version=$T_VERSION"
      T_KIND=helm   # k8s version ldflags are added after tidy
      ;;
    etcd)
      T_VERSION="$ETCD_VERSION"
      T_MODULE="go.etcd.io/etcd/server/v3"
      T_REQUIRES=("$T_MODULE $T_VERSION")
      # The module root is etcd's main package (a thin wrapper of etcdmain).
      T_PKG="$T_MODULE"
      ;;
    actionlint)
      T_VERSION="$ACTIONLINT_VERSION"
      T_MODULE="github.com/rhysd/actionlint"
      T_REQUIRES=("$T_MODULE $T_VERSION")
      T_PKG="$T_MODULE/cmd/actionlint"
      # As upstream's release build (.goreleaser.yaml); without it `-version` says "unknown".
      T_LDFLAGS+=" -X $T_MODULE.version=$T_VERSION"
      ;;
    *)
      die "unknown target '$1' (targets: ${TARGETS[*]} all)"
      ;;
  esac
}

bin_path() { target_spec "$1"; printf '%s/%s-%s\n' "$BIN_DIR" "$1" "$T_VERSION"; }

check_go() {
  command -v go >/dev/null 2>&1 || die "go not found on PATH (need Go >= $MIN_GO_VERSION)"
  local have
  have="$(go env GOVERSION)"; have="${have#go}"; have="${have%%[-+ ]*}"
  if [[ "$(printf '%s\n%s\n' "$MIN_GO_VERSION" "$have" | sort -V | head -n1)" != "$MIN_GO_VERSION" ]]; then
    if [[ "$(go env GOTOOLCHAIN)" == local ]]; then
      die "Go $have is older than $MIN_GO_VERSION and GOTOOLCHAIN=local"
    fi
    log "warning: Go $have < $MIN_GO_VERSION; relying on GOTOOLCHAIN=$(go env GOTOOLCHAIN) to switch"
  fi
}

# run CMD...: run a command with its stdout sent to stderr; on failure log the
# exact command and its exit status.
run() {
  local rc=0
  "$@" >&2 || rc=$?
  if (( rc != 0 )); then
    log "command failed (exit $rc) in $PWD:"
    log "  $(printf '%q ' "$@")"
  fi
  return "$rc"
}

# Field of `go mod download -json` output (one-line values only).
json_field() { sed -n "s/^[[:space:]]*\"$1\": \"\\(.*\\)\",\{0,1\}\$/\\1/p" | head -n1; }

build_target() {
  local name="$1" force="$2"
  target_spec "$name"
  local version="$T_VERSION" out="$BIN_DIR/$name-$T_VERSION"
  if [[ "$force" != 1 && -x "$out" ]]; then
    log "$name $version: cached ($out)"
    return 0
  fi

  mkdir -p "$BIN_DIR" "$SRC_DIR"
  # One build per binary at a time (e.g. parallel test workers calling
  # --print-path); the second waiter then finds the binary cached.
  local lockfd
  exec {lockfd}>"$BIN_DIR/.$name-$version.lock"
  flock "$lockfd"
  if [[ "$force" != 1 && -x "$out" ]]; then
    log "$name $version: cached ($out)"
    exec {lockfd}>&-
    return 0
  fi

  local start=$SECONDS work="$SRC_DIR/$name-$version"
  log "$name $version: building $T_PKG (wrapper module $work)"
  rm -rf "$work"
  mkdir -p "$work"
  local rc=0
  ( cd "$work" && build_in_wrapper "$name" "$out" ) || rc=$?
  exec {lockfd}>&-
  if (( rc != 0 )); then
    log "$name $version: FAILED after $((SECONDS - start))s"
    return "$rc"
  fi
  log "$name $version: built in $((SECONDS - start))s -> $out"
}

# Runs in a subshell inside the (empty) wrapper module dir; T_* set.
build_in_wrapper() {
  local name="$1" out="$2" mod_ver dl gomod godir info_file build_date
  export GOWORK=off
  export CGO_ENABLED="${CGO_ENABLED:-0}"

  # A bare module first so `go mod download` never touches a module around us.
  printf 'module plinth.local/tools/%s\n' "$name" > go.mod

  # Fetch the primary module to read its go.mod (go/godebug lines, and for
  # Kubernetes the list of staging modules).
  mod_ver="$T_MODULE@$T_VERSION"
  dl="$(go mod download -json "$mod_ver")" || {
    printf '%s\n' "$dl" >&2
    log "command failed in $PWD: go mod download -json $mod_ver"
    return 1
  }
  gomod="$(json_field GoMod <<<"$dl")"
  [[ -f "$gomod" ]] || { log "no go.mod for $mod_ver in: $dl"; return 1; }
  godir="$(awk '$1 == "go" { print $2; exit }' "$gomod")"

  {
    printf '// Generated by hack/build-tools.sh; do not edit.\n'
    printf 'module plinth.local/tools/%s\n\n' "$name"
    printf 'go %s\n\n' "${godir:-1.24}"
    grep -E '^godebug' "$gomod" || true
    printf '\nrequire (\n'
    local r
    for r in "${T_REQUIRES[@]}"; do printf '\t%s\n' "$r"; done
    printf ')\n'
  } > go.mod

  if [[ "$T_KIND" == kube ]]; then
    # Every `X => ./staging/...` replace of kubernetes' go.mod becomes
    # `X => X <staging version>`: the published copy of that staging module.
    local staging
    staging="$(awk '
      $1 == "replace" && $3 == "=>" && $4 ~ /^\.\/staging\// { print $2 }
      $2 == "=>" && $3 ~ /^\.\/staging\// { print $1 }' "$gomod" | sort -u)"
    [[ -n "$staging" ]] || { log "no staging replaces found in $gomod"; return 1; }
    log "$name: replacing $(wc -l <<<"$staging") staging modules with $KUBERNETES_STAGING_VERSION"
    {
      printf '\nreplace (\n'
      local m
      while read -r m; do printf '\t%s => %s %s\n' "$m" "$m" "$KUBERNETES_STAGING_VERSION"; done <<<"$staging"
      printf ')\n'
    } >> go.mod

    local kv="${KUBERNETES_VERSION#v}" major minor
    major="${kv%%.*}"; minor="${kv#*.}"; minor="${minor%%.*}"
    info_file="$(json_field Info <<<"$dl")"
    build_date="$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info_file" 2>/dev/null || true)"
    build_date="${build_date:-1970-01-01T00:00:00Z}"
    local pkg
    for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
      T_LDFLAGS+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
      # No commit is known from the module proxy: empty rather than "$Format:%H$".
      T_LDFLAGS+=" -X $pkg.gitCommit= -X $pkg.buildDate=$build_date"
    done
  fi

  cat > tools.go <<EOF
// Generated by hack/build-tools.sh; do not edit.
//go:build tools

package tools

import _ "$T_PKG"
EOF

  run go mod tidy -e || return 1

  if [[ "$T_KIND" == helm ]]; then
    # As helm's Makefile: the Kubernetes version helm assumes by default comes
    # from the client-go it is built with (v0.X.Y -> 1.X).
    local cg major minor
    cg="$(go list -m -f '{{.Version}}' k8s.io/client-go)" || { log "cannot resolve k8s.io/client-go"; return 1; }
    cg="${cg#v}"; major=$(( ${cg%%.*} + 1 )); minor="${cg#*.}"; minor="${minor%%.*}"
    local pkg
    for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
      T_LDFLAGS+=" -X $pkg.k8sVersionMajor=$major -X $pkg.k8sVersionMinor=$minor"
    done
  fi

  # Build next to the final path, then rename: an interrupted build never
  # leaves a partial binary under the final name.
  local tmp="$out.tmp.$$"
  local rm_tmp
  rm_tmp="rm -f $(printf '%q' "$tmp")"
  # shellcheck disable=SC2064  # expand now: $tmp is local, the trap fires later
  trap "$rm_tmp" EXIT
  # shellcheck disable=SC2064
  trap "$rm_tmp; exit 130" INT
  # shellcheck disable=SC2064
  trap "$rm_tmp; exit 143" TERM
  run go build -trimpath -ldflags "$T_LDFLAGS" -o "$tmp" "$T_PKG" || return 1
  chmod 0755 "$tmp"
  mv -f "$tmp" "$out"
  trap - EXIT INT TERM
}

main() {
  local force=0 print_path="" list=0 names=() a
  while (( $# )); do
    case "$1" in
      -h|--help) usage; exit 0 ;;
      --force) force=1 ;;
      --list) list=1 ;;
      --print-path)
        (( $# >= 2 )) || die "--print-path needs a target"
        print_path="$2"; shift ;;
      --print-path=*) print_path="${1#*=}" ;;
      all) names+=("${TARGETS[@]}") ;;
      -*) die "unknown option '$1' (see --help)" ;;
      *) names+=("$1") ;;
    esac
    shift
  done

  if (( list )); then
    for a in "${TARGETS[@]}"; do
      target_spec "$a"
      printf '%-24s %-8s %s\n' "$a" "$T_VERSION" "$(bin_path "$a")"
    done
    exit 0
  fi

  if [[ -n "$print_path" ]]; then
    (( ${#names[@]} == 0 )) || die "--print-path takes exactly one target"
    local p
    p="$(bin_path "$print_path")"
    if [[ ! -x "$p" ]]; then
      check_go
      build_target "$print_path" 0
    fi
    printf '%s\n' "$p"
    exit 0
  fi

  (( ${#names[@]} )) || { usage; exit 2; }
  for a in "${names[@]}"; do target_spec "$a"; done  # validate names first
  check_go

  local failed=() seen=" "
  for a in "${names[@]}"; do
    [[ "$seen" == *" $a "* ]] && continue
    seen+="$a "
    local rc=0
    build_target "$a" "$force" || rc=$?
    (( rc < 128 )) || exit "$rc"   # interrupted: stop, do not go on to the next target
    (( rc == 0 )) || failed+=("$a")
  done
  if (( ${#failed[@]} )); then
    log "failed: ${failed[*]}"
    exit 1
  fi
}

trap 'exit 130' INT
trap 'exit 143' TERM
main "$@"
