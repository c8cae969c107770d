#!/usr/bin/env bash
# ctest Install.ExampleBuildsAgainstInstallTree: afinar as a library user gets it. Installs the
# build tree ctest runs in into a temporary prefix, checks what landed there (library + SONAME +
# RPATH, every public header, the CMake package, the executable, nothing from tests/ or bench/),
# builds examples/finetune against it with find_package(afinar), runs it on a tiny ImageFolder
# (from scratch, then from its own output, which loads weights) and evaluates the result with the
# installed `afinar`. Everything lives in one temporary folder, removed on exit.
#
#   tests/install/check_install.sh BUILD_DIR SOURCE_DIR GENERATOR CXX_COMPILER LIBDIR [SANITIZERS]
# (LIBDIR: CMAKE_INSTALL_LIBDIR, "lib" unless the build was configured for the /usr prefix)
set -euo pipefail

build=$(realpath "$1")
src=$(realpath "$2")
generator=$3
cxx=$4
libdir=$5
sanitize=${6:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/afinar_install_XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# Runs a step with its output in a log, shown only when it fails.
step() {
  local name=$1
  shift
  local rc=0
  "$@" >"$tmp/$name.log" 2>&1 || rc=$?
  if ((rc != 0)); then
    cat "$tmp/$name.log" >&2
    fail "$name: '$*' exited with $rc"
  fi
}

# ---- the install tree -------------------------------------------------------------------------
step install cmake --install "$build" --prefix "$prefix"

for f in bin/afinar "$libdir"/cmake/afinar/afinar{Config,ConfigVersion,Targets}.cmake; do
  [[ -f $prefix/$f ]] || fail "$f is not installed"
done

# Every header of include/afinar (not an editor's or patch's leftover), and nothing else there.
diff <(cd "$src/include" && find afinar -type f -name '*.h' | sort) \
  <(cd "$prefix/include" && find afinar -type f | sort) >"$tmp/headers.diff" ||
  fail "installed headers differ from include/afinar (< source, > installed):
$(cat "$tmp/headers.diff")"

# Only the library, its CMake package and the executable: no test or benchmark program.
stray=$(cd "$prefix" && find . -type f ! -path './include/afinar/*' ! -path ./bin/afinar \
  ! -path "./$libdir/cmake/afinar/*" ! -path "./$libdir/libafinar.so*")
[[ -z $stray ]] || fail "unexpected files installed: $stray"

# SONAME: a file of that name in lib/ (what executables record and the loader looks for).
soname=$(readelf -d "$prefix/$libdir/libafinar.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname == libafinar.so.* && -f $prefix/$libdir/$soname ]] ||
  fail "libafinar.so's SONAME '$soname' is not a versioned file in $libdir/"
# RPATHs: the executable finds the library relative to itself; nothing points into the build.
exe_runpath=$(readelf -d "$prefix/bin/afinar" | sed -n 's/.*R.*PATH).*\[\(.*\)\]/\1/p')
[[ $exe_runpath == *"\$ORIGIN/../$libdir"* ]] ||
  fail "bin/afinar's RUNPATH '$exe_runpath' lacks \$ORIGIN/../$libdir"
# (Outputs go through variables: grep -q closing a pipe early fails the pipeline under pipefail.)
for f in bin/afinar "$libdir/libafinar.so"; do
  dynamic=$(readelf -d "$prefix/$f")
  [[ $dynamic != *"$build"* ]] || fail "$f's RUNPATH points into the build tree $build"
done
step version "$prefix/bin/afinar" --version

# ---- the example, built against the install tree ----------------------------------------------
# A sanitized libafinar needs the sanitizer runtime in the program too.
san_flag=${sanitize:+-fsanitize=$sanitize}
# Warnings are errors, the headers included as -I rather than -isystem: the public headers must
# compile cleanly in a consumer's build too.
step configure cmake -S "$src/examples/finetune" -B "$tmp/build" -G "$generator" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_NO_SYSTEM_FROM_IMPORTED=ON \
  -DCMAKE_CXX_FLAGS="-Wall -Wextra -Wpedantic -Werror $san_flag" \
  -DCMAKE_EXE_LINKER_FLAGS="$san_flag"
grep -q "^afinar_DIR:PATH=$prefix/$libdir/cmake/afinar\$" "$tmp/build/CMakeCache.txt" ||
  fail "find_package(afinar) found $(grep '^afinar_DIR' "$tmp/build/CMakeCache.txt"), not $prefix"
step build cmake --build "$tmp/build"
loaded=$(ldd "$tmp/build/finetune")
[[ $loaded == *"libafinar.so."*" => $prefix/$libdir/libafinar.so."* ]] ||
  fail "finetune does not load the installed libafinar: $loaded"

# ---- tiny ImageFolders of 16x16 binary PPMs, 6 per class: bright, dark (+ grey: a 3-class one) --
ppm() {  # ppm FILE VALUE: a 16x16 RGB image of one grey level
  {
    printf 'P6\n16 16\n255\n'
    # shellcheck disable=SC2046  # 768 arguments: the format repeats once per byte
    printf "\\$(printf %03o "$2")%.0s" $(seq 768)
  } >"$1"
}
mkdir -p "$tmp"/data/{bright,dark} "$tmp"/data3/{bright,dark,grey}
for i in 1 2 3 4 5 6; do
  ppm "$tmp/data/bright/$i.ppm" $((200 + i))
  ppm "$tmp/data/dark/$i.ppm" $((30 + i))
done
cp "$tmp"/data/bright/* "$tmp/data3/bright" && cp "$tmp"/data/dark/* "$tmp/data3/dark"
for i in 1 2 3 4 5 6; do ppm "$tmp/data3/grey/$i.ppm" $((110 + i)); done

# From scratch on the 3 classes at 16x16 (one epoch), then from that file on 2 classes: its
# weights loaded but fc's (a new 2-way head), the crop taken from it. Each writes finetuned.h5
# in its own folder.
mkdir -p "$tmp/scratch" "$tmp/tuned"
(cd "$tmp/scratch" && step scratch "$tmp/build/finetune" "$tmp/data3" 1 - 16)
[[ -f $tmp/scratch/finetuned.h5 ]] ||
  fail "finetune wrote no finetuned.h5: $(cat "$tmp/scratch.log")"
(cd "$tmp/tuned" && step tuned "$tmp/build/finetune" "$tmp/data" 1 ../scratch/finetuned.h5)
if ! grep -q "finetuned.h5: 2 shape mismatches: fc.weight .*fc.bias" "$tmp/tuned.log" ||
  grep -q "missing\|unexpected" "$tmp/tuned.log"; then
  fail "finetune did not load the backbone of its weights file: $(cat "$tmp/tuned.log")"
fi
[[ -f $tmp/tuned/finetuned.h5 ]] || fail "finetune wrote no finetuned.h5: $(cat "$tmp/tuned.log")"

# The installed executable reads the result: a weights file with its classes and preprocessing.
step eval "$prefix/bin/afinar" eval --weights "$tmp/tuned/finetuned.h5" --data-dir "$tmp/data" \
  --json
grep -q '"classes": \["bright", "dark"\].*"confusion"' "$tmp/eval.log" ||
  fail "afinar eval did not evaluate both classes: $(cat "$tmp/eval.log")"
echo "install tree, example build and run: ok"
