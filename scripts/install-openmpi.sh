#!/usr/bin/env bash
# Installs Open MPI (Debian's openmpi-bin + libopenmpi3) where it is missing, for the multi-process
# CPU tests (test/comm/mpi-*.test.ts), the way .ci/run installs python3-torch. The addon never links
# against MPI: it opens libmpi.so.40 at run time, so this is only needed to run `mpirun` jobs.
# Exit status 0 when mpirun and libmpi are present afterwards.
set -uo pipefail
have_mpi() { command -v mpirun >/dev/null 2>&1 && { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q 'libmpi\.so\.40'; }
if have_mpi; then
  echo "openmpi: already installed ($(mpirun --version 2>/dev/null | head -n1))"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo -n"; fi
started=$(date +%s)
if $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends openmpi-bin libopenmpi3 >/dev/null; then
  echo "openmpi: installed in $(( $(date +%s) - started )) s"
else
  echo "openmpi: install failed; the multi-process tests will fail"
  exit 1
fi
have_mpi
