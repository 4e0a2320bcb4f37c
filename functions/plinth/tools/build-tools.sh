#!/usr/bin/env bash
# Build the pinned Go binaries Plinth's tests and local control plane use
# (Crossplane CLI and core, kube-apiserver, kube-controller-manager,
# provider-kubernetes, helm, etcd, actionlint, Argo CD, the Kyverno CLI, an
# OCI registry and crane) from the Go module proxy.
#
# `go install module@version` is refused by the proxy for github.com/crossplane
# modules (their version list is not served), so each binary is built from a
# small generated wrapper module: a go.mod with exact requires (and, for
# Kubernetes, a replace per staging module), a tools.go that blank-imports the
# main package under `//go:build tools`, `go mod tidy -e`, then `go build -o`.
# Argo CD and Kyverno are built inside a writable copy of their own module
# instead (kind "module"): Argo CD's go.mod replaces a module with a folder
# inside itself (./gitops-engine), which no wrapper module can follow.
# Wrapper modules and module copies live under the cache dir, never in the
# repository.
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
ARGOCD_VERSION="v3.5.1"                # github.com/argoproj/argo-cd/v3 (repo-server, controllers, server: one binary)
# The commit of Argo CD's tag v3.5.1 (its commit time is the proxy's v3.5.1
# Time, 2026-08-12T11:24:40Z). The module proxy serves no commit; upstream's
# release sets it, and with it `argocd version` says v3.5.1, not v3.5.1+unknown.
ARGOCD_GIT_COMMIT="109ca7ca71139e514114499d294a492e7910a965"
# Argo CD's go.mod replaces github.com/argoproj/argo-cd/gitops-engine with its
# folder ./gitops-engine, a nested module the v3.5.1 module zip leaves out. The
# proxy serves that module only at this pseudo-version (a later commit); one
# reverse patch (argocd_gitops_engine_patch) turns it into v3.5.1's folder,
# checked against the digest of v3.5.1's gitops-engine/ (files but *_test.go).
ARGOCD_GITOPS_ENGINE_VERSION="v0.0.0-20260914071520-c9c369efcc5b"
ARGOCD_GITOPS_ENGINE_SHA256="e3083ad601b59bcaf32f2131e3146da352affd994229891055c45ccdb689fea8"
KYVERNO_VERSION="v1.19.0"              # github.com/kyverno/kyverno (the CLI: kyverno apply/test)
DISTRIBUTION_VERSION="v3.1.2"          # github.com/distribution/distribution/v3 (the OCI registry)
GGCR_VERSION="v0.22.1"                 # github.com/google/go-containerregistry (crane)
MIN_GO_VERSION="1.26.5"                # highest `go` directive among the modules above (kyverno's)
# ---------------------------------------------------------------------------

TARGETS=(crossplane crossplane-core kube-apiserver kube-controller-manager provider-kubernetes helm etcd actionlint
         argocd kyverno registry crane)

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
# package; for kind "module" a path relative to the module root), T_LDFLAGS and
# T_KIND (plain|kube|helm|module).
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
    argocd)
      T_VERSION="$ARGOCD_VERSION"
      T_MODULE="github.com/argoproj/argo-cd/v3"
      T_REQUIRES=()
      T_PKG="./cmd"
      T_KIND=module   # version ldflags (buildDate, kubectlVersion) added in the copy
      ;;
    kyverno)
      T_VERSION="$KYVERNO_VERSION"
      T_MODULE="github.com/kyverno/kyverno"
      T_REQUIRES=()
      T_PKG="./cmd/cli/kubectl-kyverno"
      # Kyverno's go.mod replaces k8s.io/pod-security-admission with its own
      # fork: build in the module, with upstream's go.mod and go.sum as they are.
      T_KIND=module
      # As upstream's .goreleaser.yml ({{.Version}}: the tag without "v").
      T_LDFLAGS+=" -X $T_MODULE/pkg/version.BuildVersion=${T_VERSION#v}"
      ;;
    registry)
      T_VERSION="$DISTRIBUTION_VERSION"
      T_MODULE="github.com/distribution/distribution/v3"
      T_REQUIRES=("$T_MODULE $T_VERSION")
      T_PKG="$T_MODULE/cmd/registry"
      # As upstream's Dockerfile (version without "v"); its revision (the git
      # commit) is not served by the module proxy and stays empty.
      T_LDFLAGS+=" -X $T_MODULE/version.version=${T_VERSION#v} -X $T_MODULE/version.mainpkg=$T_MODULE"
      ;;
    crane)
      T_VERSION="$GGCR_VERSION"
      T_MODULE="github.com/google/go-containerregistry"
      T_REQUIRES=("$T_MODULE $T_VERSION")
      T_PKG="$T_MODULE/cmd/crane"
      # As upstream's .goreleaser.yml ({{.Version}}: the tag without "v");
      # transport.Version goes into the User-Agent.
      T_LDFLAGS+=" -X $T_MODULE/cmd/crane/cmd.Version=${T_VERSION#v}"
      T_LDFLAGS+=" -X $T_MODULE/pkg/v1/remote/transport.Version=${T_VERSION#v}"
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

# Files a binary needs beside it. Argo CD's image puts two of its own scripts on PATH
# (Dockerfile: COPY hack/gpg-wrapper.sh hack/git-verify-wrapper.sh /usr/local/bin/), and the
# repo-server runs git-verify-wrapper.sh for every manifest it generates, GPG enabled or not:
# without it every Application fails with "permission denied". Copied from the same module
# version into <binary>-scripts/, which goes on the repo-server's PATH.
ensure_extras() {
  local name="$1" out="$2"
  [[ "$name" == argocd ]] || return 0
  local dir="$out-scripts" f missing=0
  for f in gpg-wrapper.sh git-verify-wrapper.sh; do [[ -x "$dir/$f" ]] || missing=1; done
  (( missing )) || return 0
  check_go
  local tmp dl mod
  tmp="$(mktemp -d)"
  dl="$(cd "$tmp" && printf 'module plinth.local/tools/argocd-scripts\n' > go.mod \
          && GOWORK=off go mod download -json "github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION")" || {
    rm -rf "$tmp"; log "argocd: cannot download the module for its scripts"; return 1; }
  rm -rf "$tmp"
  mod="$(json_field Dir <<<"$dl")"
  mkdir -p "$dir"
  for f in gpg-wrapper.sh git-verify-wrapper.sh; do
    install -m 0755 "$mod/hack/$f" "$dir/$f" || { log "argocd: no hack/$f in $mod"; return 1; }
  done
  log "argocd: $dir holds the image's PATH scripts from $ARGOCD_VERSION"
}

build_target() {
  local name="$1" force="$2"
  target_spec "$name"
  local version="$T_VERSION" out="$BIN_DIR/$name-$T_VERSION"
  if [[ "$force" != 1 && -x "$out" ]]; then
    log "$name $version: cached ($out)"
    ensure_extras "$name" "$out"
    return
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
  if [[ "$T_KIND" == module ]]; then
    log "$name $version: building $T_MODULE/${T_PKG#./} (copy of the module in $work)"
  else
    log "$name $version: building $T_PKG (wrapper module $work)"
  fi
  rm -rf "$work"
  mkdir -p "$work"
  local rc=0
  ( cd "$work" && build_in_wrapper "$name" "$out" ) || rc=$?
  # A module copy is hundreds of MB (Argo CD's 214 MB): keep it only when the
  # build failed, to look into.
  if (( rc == 0 )) && [[ "$T_KIND" == module ]]; then rm -rf "$work"; fi
  exec {lockfd}>&-
  if (( rc != 0 )); then
    log "$name $version: FAILED after $((SECONDS - start))s"
    return "$rc"
  fi
  log "$name $version: built in $((SECONDS - start))s -> $out"
  ensure_extras "$name" "$out"
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

  if [[ "$T_KIND" == module ]]; then
    build_in_module_copy "$name" "$out" "$dl"
    return
  fi

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

# Kind "module": replace the bare go.mod in the work dir with a writable copy
# of the downloaded module (read-only in the module cache) and build its main
# package from inside, with the module's own go.mod (replaces included) and
# go.sum. DL is the `go mod download -json` output. Runs in build_in_wrapper's
# subshell.
build_in_module_copy() {
  local name="$1" out="$2" dl="$3" dir info_file build_date ge_dir=""
  dir="$(json_field Dir <<<"$dl")"
  [[ -f "$dir/go.mod" ]] || { log "no module folder for $T_MODULE@$T_VERSION in: $dl"; return 1; }
  if [[ "$name" == argocd ]]; then
    # Downloaded while the work dir still holds the bare go.mod.
    local ge="github.com/argoproj/argo-cd/gitops-engine@$ARGOCD_GITOPS_ENGINE_VERSION" ge_dl
    ge_dl="$(go mod download -json "$ge")" || {
      printf '%s\n' "$ge_dl" >&2
      log "command failed in $PWD: go mod download -json $ge"
      return 1
    }
    ge_dir="$(json_field Dir <<<"$ge_dl")"
    [[ -f "$ge_dir/go.mod" ]] || { log "no module folder for $ge in: $ge_dl"; return 1; }
  fi
  rm -f go.mod
  cp -R "$dir/." . || { log "cannot copy $dir to $PWD"; return 1; }
  chmod -R u+w .

  if [[ "$name" == argocd ]]; then
    grep -Eq '^replace github.com/argoproj/argo-cd/gitops-engine => \./gitops-engine$' go.mod \
      || { log "argocd: go.mod no longer replaces gitops-engine with ./gitops-engine; update the script"; return 1; }
    [[ ! -e gitops-engine ]] || { log "argocd: the module already has ./gitops-engine; update the script"; return 1; }
    cp -R "$ge_dir" gitops-engine || { log "cannot copy $ge_dir to $PWD/gitops-engine"; return 1; }
    chmod -R u+w gitops-engine
    command -v patch >/dev/null 2>&1 || { log "argocd: patch not found on PATH (Debian: apt-get install patch)"; return 1; }
    argocd_gitops_engine_patch | run patch -p1 -l --no-backup-if-mismatch -s -d gitops-engine \
      || { log "argocd: the gitops-engine reverse patch does not apply"; return 1; }
    local sum
    sum="$(cd gitops-engine && find . -type f ! -name '*_test.go' -print0 | LC_ALL=C sort -z \
             | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
    [[ "$sum" == "$ARGOCD_GITOPS_ENGINE_SHA256" ]] \
      || { log "argocd: ./gitops-engine digest $sum, expected $ARGOCD_GITOPS_ENGINE_SHA256 (Argo CD $T_VERSION's)"; return 1; }
    log "argocd: ./gitops-engine = $ARGOCD_GITOPS_ENGINE_VERSION reverse-patched to $T_VERSION's (digest checked)"

    # As Argo CD's Makefile (PACKAGE=.../common): VERSION file, build date,
    # commit, tree state, tag, and kubectlVersion = the client-go it builds with.
    local pkg="$T_MODULE/common" kubectl_version
    info_file="$(json_field Info <<<"$dl")"
    build_date="$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info_file" 2>/dev/null || true)"
    build_date="${build_date:-1970-01-01T00:00:00Z}"
    kubectl_version="$(go list -m -f '{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}' k8s.io/client-go)" \
      || { log "cannot resolve k8s.io/client-go in $PWD"; return 1; }
    T_LDFLAGS+=" -X $pkg.version=$(tr -d '[:space:]' < VERSION) -X $pkg.buildDate=$build_date"
    T_LDFLAGS+=" -X $pkg.gitCommit=$ARGOCD_GIT_COMMIT -X $pkg.gitTreeState=clean"
    T_LDFLAGS+=" -X $pkg.gitTag=$T_VERSION -X $pkg.kubectlVersion=$kubectl_version"
  fi

  local tmp="$out.tmp.$$"
  local rm_tmp
  rm_tmp="rm -f $(printf '%q' "$tmp")"
  # shellcheck disable=SC2064  # expand now: $tmp is local, the trap fires later
  trap "$rm_tmp" EXIT
  # shellcheck disable=SC2064
  trap "$rm_tmp; exit 130" INT
  # shellcheck disable=SC2064
  trap "$rm_tmp; exit 143" TERM
  # -buildvcs=false: a cache dir inside some git work tree must not stamp
  # that tree's commit into the binary (kyverno version prints vcs.revision).
  run go build -trimpath -buildvcs=false -ldflags "$T_LDFLAGS" -o "$tmp" "$T_PKG" || return 1
  chmod 0755 "$tmp"
  mv -f "$tmp" "$out"
  trap - EXIT INT TERM
}

# From the proxy's gitops-engine $ARGOCD_GITOPS_ENGINE_VERSION back to Argo CD
# v3.5.1's gitops-engine/: removes a later kubectl-panic recovery in
# AuthReconcile (Argo CD #28607), the only non-test difference.
argocd_gitops_engine_patch() {
  cat <<'PATCH'
--- a/pkg/utils/kube/resource_ops.go
+++ b/pkg/utils/kube/resource_ops.go
@@ -96,41 +96,15 @@
 }
 
 // AuthReconcile will perform https://kubernetes.io/docs/reference/kubectl/generated/kubectl_auth/kubectl_auth_reconcile/
-func (f *realKubectlOptionsRunner) AuthReconcile(opts *auth.ReconcileOptions) (retErr error) {
+func (f *realKubectlOptionsRunner) AuthReconcile(opts *auth.ReconcileOptions) error {
 	cleanup, err := f.processKubectlRun("auth")
 	if err != nil {
 		return err
 	}
 	defer cleanup()
-	// kubectl panics instead of returning an error when the impersonated
-	// ServiceAccount is forbidden (see GitHub #28607, k8s#140338). Catch
-	// any panic so the controller can surface a SyncFailed status rather
-	// than crashing.
-	defer func() {
-		if r := recover(); r != nil {
-			retErr = fmt.Errorf("error running kubectl auth reconcile: %v", r)
-		}
-	}()
-	// TODO(#29484): Remove this wrapper after the upstream kubectl panic fix is available in Argo CD.
-	opts.Visitor = panicRecoveringVisitor{Visitor: opts.Visitor}
 	return opts.RunReconcile()
 }
 
-type panicRecoveringVisitor struct {
-	resource.Visitor
-}
-
-func (v panicRecoveringVisitor) Visit(fn resource.VisitorFunc) error {
-	return v.Visitor.Visit(func(info *resource.Info, err error) (retErr error) {
-		defer func() {
-			if r := recover(); r != nil {
-				retErr = fmt.Errorf("error running kubectl auth reconcile: %v", r)
-			}
-		}()
-		return fn(info, err)
-	})
-}
-
 func (f *realKubectlOptionsRunner) processKubectlRun(cmd string) (CleanupFunc, error) {
 	if f.onKubectlRun != nil {
 		return f.onKubectlRun(cmd)
PATCH
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
    else
      ensure_extras "$print_path" "$p" >&2
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
