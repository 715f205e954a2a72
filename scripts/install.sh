#!/usr/bin/env bash
# Idempotent installer: Debian packages, a .venv with requirements.txt, and a CPU build of
# Horovod 0.28.1 patched for TensorFlow 2.21. Each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
PY=${PYTHON:-python3}
HOROVOD_VERSION=0.28.1
APT_PACKAGES="openmpi-bin libopenmpi-dev cmake g++ make slurm-wlm slurm-client munge procps xvfb xauth"

say() { echo "[install] $*"; }
# pip echoes a warning per package for this machine kind's unused local indexes; keep logs readable.
quiet_pip() { "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; return "${PIPESTATUS[0]}"; }

if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  echo "install: need root or sudo to add Debian packages ($APT_PACKAGES)" >&2; exit 1; fi

missing=""
for p in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  say "apt-get install$missing"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # policy-rc.d keeps the packages' init scripts from starting daemons we start ourselves.
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  "$PY" -m venv "$VENV"
fi
REQ_STAMP="$VENV/.requirements.$(sha1sum requirements.txt | cut -c1-12)"
if [ ! -f "$REQ_STAMP" ]; then
  say "pip install -r requirements.txt"
  quiet_pip "$VENV/bin/pip" install -q --upgrade pip setuptools wheel
  quiet_pip "$VENV/bin/pip" install -q -r requirements.txt
  touch "$REQ_STAMP"
fi

if [ "${BA3C_SKIP_HOROVOD:-0}" != "1" ] && ! "$VENV/bin/python" -c "import horovod.tensorflow" 2>/dev/null; then
  say "building horovod $HOROVOD_VERSION for CPU (about 5 minutes on 2 cores)"
  build=$(mktemp -d)
  trap 'rm -rf "$build"' EXIT
  quiet_pip "$VENV/bin/pip" download -q --no-deps --no-binary :all: "horovod==$HOROVOD_VERSION" -d "$build"
  tar -xzf "$build"/horovod-*.tar.gz -C "$build"
  src=$(echo "$build"/horovod-$HOROVOD_VERSION)
  # xla_mpi_ops.cc only provides GPU XLA custom calls and includes headers TF 2.21 moved.
  sed -i '/xla_mpi_ops.cc/d' "$src/horovod/tensorflow/CMakeLists.txt"
  (cd "$src" && PATH="/usr/bin:$PATH" CMAKE_POLICY_VERSION_MINIMUM=3.5 \
    HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITH_MPI=1 HOROVOD_WITHOUT_PYTORCH=1 \
    HOROVOD_WITHOUT_MXNET=1 HOROVOD_WITHOUT_GLOO=1 MAKEFLAGS="-j$(nproc)" \
    quiet_pip "$VENV/bin/pip" install -q --no-build-isolation --no-cache-dir . )
  "$VENV/bin/python" -c "import horovod.tensorflow as hvd; hvd.init(); print('[install] horovod ok, size', hvd.size())"
fi
say "done"
