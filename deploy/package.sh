#!/usr/bin/env bash
# Builds cloudlink's two Debian packages into dist/ with dpkg-buildpackage, then runs lintian on
# both (an error fails; warnings are listed):
#   cloudlink       the VPS: cloudlink-dataplane, cloudlink-control, their units, the sshd drop-in,
#                   /etc/cloudlink/*.conf, Prometheus and Grafana files under /usr/share/cloudlink
#   cloudlink-home  the home agent and its unit
# The version is the programs' own (`--version`, CMake's project() version).
#   bash deploy/package.sh                   configure and build build-package/, then package it
#   bash deploy/package.sh --prebuilt DIR    package the programs already built in DIR
#   options: --out DIR (default dist/), --no-lintian; JOBS=N parallel compile jobs (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
prebuilt=""
out="$root/dist"
lint=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prebuilt) prebuilt=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-lintian) lint=0; shift ;;
    *) echo "package.sh: unknown argument $1 (see the comment at its top)" >&2; exit 2 ;;
  esac
done

bash deploy/install-deps.sh --packaging

programs=(dataplane/cloudlink-dataplane control/cloudlink-control home-agent/cloudlink-home)
if [ -z "$prebuilt" ]; then
  build="$root/build-package"
  launcher=()
  if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  fi
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLOUDLINK_BENCH=OFF \
    "${launcher[@]}" >/dev/null
  ninja -C "$build" -j "${JOBS:-2}" cloudlink-dataplane cloudlink-control cloudlink-home
else
  build=$(cd "$prebuilt" && pwd)
fi
for p in "${programs[@]}"; do
  if [ ! -x "$build/$p" ]; then
    echo "package.sh: $build/$p is missing: build it first (ninja -C $build ${p##*/})" >&2
    exit 1
  fi
done

# One version for everything: what the programs print.
version=""
for p in "${programs[@]}"; do
  read -r name v < <("$build/$p" --version)
  [ "$name" = "${p##*/}" ] || { echo "package.sh: $p --version printed '$name $v'" >&2; exit 1; }
  [ -z "$version" ] || [ "$v" = "$version" ] ||
    { echo "package.sh: versions differ: $version and $p $v" >&2; exit 1; }
  version=$v
done

work=$(mktemp -d "$build/package.XXXXXX")
trap 'rm -rf "$work"' EXIT
src="$work/cloudlink-$version"
mkdir -p "$src"
cp -r "$root/deploy/debian" "$src/debian"
cp "$root/README.md" "$src/"
# A native package: its version is the upstream one. The date is the last commit's, so two
# builds of one commit give the same changelog.
when=$(git -C "$root" log -1 --format=%aD 2>/dev/null || date -R)
cat >"$src/debian/changelog" <<CHANGELOG
cloudlink ($version) unstable; urgency=medium

  * Packaged from the cloudlink tree by deploy/package.sh.

 -- cloudlink maintainers <maintainers@users.noreply.h-seed-898b192d.example>  $when
CHANGELOG

echo "== dpkg-buildpackage cloudlink $version from $build"
(cd "$src" && CLOUDLINK_BUILD_DIR="$build" DEB_BUILD_OPTIONS="noautodbgsym nocheck" \
  dpkg-buildpackage -b -us -uc --no-sign >"$work/dpkg-buildpackage.log" 2>&1) || {
  tail -40 "$work/dpkg-buildpackage.log" >&2
  echo "package.sh: dpkg-buildpackage failed (log above)" >&2
  exit 1
}
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
mkdir -p "$out"
debs=("cloudlink_${version}_${arch}.deb" "cloudlink-home_${version}_${arch}.deb")
for deb in "${debs[@]}"; do cp "$work/$deb" "$out/"; done

if [ "$lint" = 1 ]; then
  echo "== lintian"
  # One run for both (lintian's start-up is most of its time). Errors fail; warnings are shown.
  (cd "$out" && lintian --fail-on error --display-level '>=warning' "${debs[@]}") ||
    { echo "package.sh: lintian found errors" >&2; exit 1; }
fi
for deb in "${debs[@]}"; do echo "$out/$deb"; done
