#!/usr/bin/env bash
# Installs this build into a temporary prefix, then configures, builds and
# runs tests/install_consumer/ (a separate CMake project that does
# find_package(tokenauth CONFIG REQUIRED) and links tokenauth::client)
# against that prefix only. Fails if the install is broken in any way: a
# missing header, library, dependency or config file.
#
#   install_consumer_test.sh BUILD_DIR SOURCE_DIR GENERATOR CXX CXX_FLAGS LINK_FLAGS
set -euo pipefail
build_dir=$1 source_dir=$2 generator=$3 cxx=$4 cxx_flags=$5 link_flags=$6

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tokenauth-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

step() { printf '[install_consumer] %s\n' "$*"; }
run() {  # run LOG CMD...: quiet unless it fails
  local log=$1; shift
  if ! "$@" >"$log" 2>&1; then
    step "FAILED: $*"
    tail -n 60 "$log"
    exit 1
  fi
}

step "cmake --install into $prefix"
run "$tmp/install.log" cmake --install "$build_dir" --prefix "$prefix"

step "installed layout"
for f in \
  include/tokenauth/client/validator.h \
  include/tokenauth/client/auth_processor.h \
  include/tokenauth/client/server_credentials.h \
  include/tokenauth/v1/auth_service.pb.h \
  include/tokenauth/v1/auth_service.grpc.pb.h \
  include/tokenauth/v1/token_service.grpc.pb.h \
  lib/libtokenauth_client.a \
  lib/libtokenauth_proto.a \
  lib/cmake/tokenauth/tokenauthConfig.cmake \
  lib/cmake/tokenauth/tokenauthConfigVersion.cmake \
  lib/cmake/tokenauth/tokenauthTargets.cmake \
  share/tokenauth/proto/tokenauth/v1/auth_service.proto \
  bin/tokenauth; do
  [[ -e "$prefix/$f" ]] || { step "FAILED: $f is not installed"; exit 1; }
done
if [[ -e "$prefix/include/tokenauth/client/internal" ]]; then
  step "FAILED: client/internal/ headers are installed"; exit 1
fi
if grep -rq -- "$source_dir\|$build_dir" "$prefix/lib/cmake/tokenauth"; then
  step "FAILED: the package config refers to the build or source tree:"
  grep -rn -- "$source_dir\|$build_dir" "$prefix/lib/cmake/tokenauth" | head
  exit 1
fi

step "configure the consumer against the prefix only"
run "$tmp/configure.log" cmake -S "$source_dir/tests/install_consumer" \
  -B "$tmp/build" -G "$generator" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_CXX_FLAGS="$cxx_flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$link_flags" \
  -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON

step "build the consumer"
run "$tmp/build.log" cmake --build "$tmp/build"

step "run it"
out=$("$tmp/build/consumer")
[[ "$out" == ok ]] || { step "FAILED: consumer printed: $out"; exit 1; }
step "ok"
