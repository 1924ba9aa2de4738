#!/usr/bin/env bash
# Makes the two base images deploy/docker/Dockerfile builds on, from this machine's JDK and without any
# registry (for machines that cannot pull eclipse-temurin, such as the deploy tests' CI):
#
#   runtime (BASE_IMAGE)   a jlink runtime of the modules the server needs, the shared libraries it links,
#                          /etc/passwd and /etc/group, an empty /tmp; no shell, no package manager.
#   build   (BUILD_IMAGE)  the whole JDK, /bin/sh and the few tools mvnw and Maven's launcher call.
#
# Both keep eclipse-temurin's layout (JAVA_HOME=/opt/java/openjdk, java on PATH), so the Dockerfile is the
# same for them and for the registry images.
#
# Usage: local-base-images.sh [--runtime NAME] [--build NAME] [--jar chorus-server.jar]
#   --runtime NAME  tag of the runtime image (default localhost/chorus-base-jre:local)
#   --build NAME    tag of the build image (default localhost/chorus-base-jdk:local)
#   --jar FILE      compute the runtime's modules with jdeps from this jar (plus a few loaded by name);
#                   without it a fixed list, what jdeps printed for the server plus the same few
# Environment: JAVA_HOME (else the java on PATH) must be a JDK >= 21 that jlink can link from: with jmods,
#   or JDK 24+ built with a linkable run-time image (Temurin 25 is). PODMAN (default podman) is the command
#   that imports the images; give it flags the machine needs, e.g. PODMAN="podman --runtime runc".
set -euo pipefail

runtime_image=localhost/chorus-base-jre:local
build_image=localhost/chorus-base-jdk:local
jar=
while [ $# -gt 0 ]; do
    case "$1" in
    --runtime) runtime_image=$2; shift 2 ;;
    --build) build_image=$2; shift 2 ;;
    --jar) jar=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

read -r -a podman <<<"${PODMAN:-podman}"

if [ -n "${JAVA_HOME:-}" ]; then
    jdk=$JAVA_HOME
else
    jdk=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
fi
[ -x "$jdk/bin/jlink" ] || { echo "no jlink in $jdk: set JAVA_HOME to a JDK >= 21" >&2; exit 1; }
feature=$("$jdk/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
[ "${feature:-0}" -ge 21 ] || { echo "$jdk is Java $feature; the server needs >= 21" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/chorus-base.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

# Modules the server's classes name (jdeps --print-module-deps on chorus-server.jar), and ones only loaded by
# name at run time: JNDI's DNS provider (JGroups DNS_PING), extra charsets (PostgreSQL), zipfs, EC on
# JDKs that still have it as a module.
modules=java.base,java.compiler,java.desktop,java.instrument,java.naming,java.net.http,java.rmi,java.scripting
modules+=,java.security.jgss,java.sql,jdk.jfr,jdk.management,jdk.net,jdk.unsupported
if [ -n "$jar" ]; then
    modules=$("$jdk/bin/jdeps" --print-module-deps --ignore-missing-deps --multi-release "$feature" "$jar")
fi
available=$("$jdk/bin/java" --list-modules | sed 's/@.*//')
for extra in java.logging java.management java.xml jdk.naming.dns jdk.charsets jdk.zipfs jdk.crypto.ec; do
    if grep -qx "$extra" <<<"$available"; then modules+=,$extra; fi
done

# Copies each ELF file's shared libraries (and the loader) into the root at the paths ldd resolved, so the
# dynamic loader finds them where the host's did. Libraries inside the root already (the JDK's own) are skipped.
copy_libraries() {
    local root=$1; shift
    local lib dir
    for lib in $(ldd "$@" 2>/dev/null | grep -oE '(=> )?/[^ ]+ \(0x' | sed 's/^=> //; s/ (0x$//' | sort -u); do
        case "$lib" in "$root"/*) continue ;; esac
        dir=$(dirname "$lib")
        mkdir -p "$root$dir"
        [ -e "$root$lib" ] || cp -L "$lib" "$root$lib"
    done
}

# The skeleton both roots share: merged /usr like current Debian, root and the image's user, a sticky /tmp.
make_skeleton() {
    local root=$1
    mkdir -p "$root"/usr/bin "$root"/usr/lib "$root"/usr/lib64 "$root"/etc "$root"/root "$root"/opt/java
    ln -s usr/bin "$root/bin"
    ln -s usr/bin "$root/sbin"
    ln -s usr/lib "$root/lib"
    ln -s usr/lib64 "$root/lib64"
    mkdir -m 1777 "$root/tmp"
    printf 'root:x:0:0:root:/root:/sbin/nologin\nchorus:x:10001:10001:chorus:/tmp:/sbin/nologin\n' >"$root/etc/passwd"
    printf 'root:x:0:\nchorus:x:10001:\n' >"$root/etc/group"
    printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
}

import_image() {
    local root=$1 name=$2
    tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$root.tar" .
    "${podman[@]}" import --quiet \
        --change 'ENV JAVA_HOME=/opt/java/openjdk' \
        --change 'ENV PATH=/opt/java/openjdk/bin:/usr/bin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        "$root.tar" "$name" >/dev/null
    rm -f "$root.tar"
    echo "made $name"
}

echo "runtime: jlink $modules from $jdk"
runtime=$work/runtime
make_skeleton "$runtime"
"$jdk/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages \
    --output "$runtime/opt/java/openjdk"
copy_libraries "$runtime" $(find "$runtime/opt/java/openjdk" -type f \( -name '*.so' -o -path '*/bin/*' \))
import_image "$runtime" "$runtime_image"

echo "build: $jdk and a shell"
build=$work/build
make_skeleton "$build"
cp -a "$jdk/." "$build/opt/java/openjdk/"
# What mvnw (POSIX sh) and Maven's bin/mvn call besides shell builtins.
tools="sh uname dirname basename tr expr ls cat cp mv chmod mkdir rm mktemp env sed grep head"
for tool in $tools; do
    path=$(command -v "$tool") || { echo "no $tool on PATH" >&2; exit 1; }
    cp -L "$path" "$build/usr/bin/$tool"
    copy_libraries "$build" "$path"
done
copy_libraries "$build" $(find "$build/opt/java/openjdk" -type f \( -name '*.so' -o -path '*/bin/*' \))
import_image "$build" "$build_image"
