#!/usr/bin/env bash
# Crash-safety trials (issue 9, item 3): `afinar train` is killed with SIGKILL at random moments,
# N times. After every kill the newest checkpoint must load (a `--resume ... --max-steps 0` run
# reads and verifies it, SHA-256 included) and the next trial resumes from it; a run that reaches
# its end by itself must exit 0 with the same final checkpoint, bit for bit (its SHA-256), as an
# uninterrupted run with the same settings, and the next trial starts a fresh run.
#
#   tools/crash/kill9.sh [-n TRIALS] [-a AFINAR] [-w WORKDIR] [-d DATA] [-s SEED] [-e EPOCHS]
#     -n  kills (default 200)            -a  the afinar executable (default build/afinar)
#     -w  scratch folder (default: mktemp; removed at the end unless given)
#     -d  an ImageFolder root (default: Fashion-MNIST from Debian's dataset-fashion-mnist, 10
#         classes x 8 images, exported to <WORKDIR>/data as PGM files with python3's stdlib)
#     -s  seed of the kill times (default 1)     -e  epochs of each run (default 3)
# Prints one line per trial and "survived X of N"; exits 0 when X == N.
set -u
trials=200 afinar=build/afinar work="" data="" seed=1 epochs=3
while getopts "n:a:w:d:s:e:" opt; do
  case $opt in
    n) trials=$OPTARG ;; a) afinar=$OPTARG ;; w) work=$OPTARG ;; d) data=$OPTARG ;;
    s) seed=$OPTARG ;; e) epochs=$OPTARG ;; *) exit 2 ;;
  esac
done
[ -x "$afinar" ] || { echo "kill9.sh: no afinar executable at $afinar (give -a)" >&2; exit 2; }
keep_work=1
if [ -z "$work" ]; then work=$(mktemp -d) keep_work=0; fi
mkdir -p "$work"
cleanup() { [ "$keep_work" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

if [ -z "$data" ]; then
  data=$work/data
  python3 - "$data" <<'PY' || { echo "kill9.sh: cannot export Fashion-MNIST (give -d)" >&2; exit 2; }
# 12 images of each class as binary PGM (P5) files: train/<class>/<index>.pgm.
import gzip, os, sys
src, out, per_class = "/usr/share/datasets/fashion-mnist", sys.argv[1], 8
images = gzip.open(src + "/train-images-idx3-ubyte.gz").read()[16:]
labels = gzip.open(src + "/train-labels-idx1-ubyte.gz").read()[8:]
count = [0] * 10
for i, label in enumerate(labels):
    if count[label] < per_class:
        folder = os.path.join(out, "train", "class%d" % label)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "%05d.pgm" % i), "wb") as f:
            f.write(b"P5 28 28 255\n" + images[i * 784:(i + 1) * 784])
        count[label] += 1
    if min(count) == per_class:
        break
PY
fi

# The run: resnet18 at 16 px, 3 epochs (-e) of 64 training images (16 validation), SGD with momentum,
# one loader thread so that the trials share the cores fairly.
run="train --data-dir $data --model resnet18 --image-size 16 -b 16 --epochs $epochs --val-split 0.2"
run+=" --lr 0.01 --momentum 0.9 --workers 1 --seed 5 --no-augment"
sha_of() { grep -aoE '[0-9a-f]{64}' "$1" | tail -n 1; }  # /trainer@sha256 (the only hex string)

start=$(date +%s.%N)
"$afinar" $run --output "$work/reference" > "$work/reference.log" 2>&1 ||
  { echo "kill9.sh: the uninterrupted run failed:" >&2; tail -n 3 "$work/reference.log" >&2; exit 1; }
duration=$(echo "$(date +%s.%N) - $start" | bc)
want=$(sha_of "$work/reference/checkpoint.h5")
echo "uninterrupted run: ${duration}s, final checkpoint sha256 $want"

RANDOM=$seed
out=$work/run survived=0 kills=0 fresh=1 finished_runs=0
while [ "$kills" -lt "$trials" ]; do
  resume=""
  [ "$fresh" = 0 ] && resume="--resume $out/checkpoint.h5"
  # A kill anywhere in the run, startup and the last checkpoint included.
  delay=$(echo "scale=3; $duration * $RANDOM / 32767" | bc)
  "$afinar" $run $resume --output "$out" > "$work/trial.log" 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2> /dev/null
  wait "$pid" 2> /dev/null
  code=$?
  if [ "$code" = 0 ]; then  # the run ended before the kill: it must equal the reference
    got=$(sha_of "$out/checkpoint.h5")
    finished_runs=$((finished_runs + 1))
    if [ "$got" != "$want" ]; then
      echo "run $finished_runs ended with checkpoint sha256 $got, not the reference's $want"
      exit 1
    fi
    echo "run $finished_runs reached its end after kills; final checkpoint equals the reference"
    fresh=1
    continue
  fi
  kills=$((kills + 1))
  ok=1 why=""
  if [ "$code" != 137 ]; then
    ok=0 why="afinar exited $code before the kill: $(grep -v '^ *at \|check failed' "$work/trial.log" | tail -n 1)"
  elif [ -e "$out/checkpoint.h5" ]; then
    rm -rf "$work/check"
    if "$afinar" $run --resume "$out/checkpoint.h5" --max-steps 0 --output "$work/check" \
        > "$work/check.log" 2>&1 && grep -q "^resuming " "$work/check.log"; then
      fresh=0 why="checkpoint loads: $(grep -o 'at epoch [0-9]*' "$work/check.log")"
    else
      ok=0 why="the checkpoint does not load: $(grep -i 'error' "$work/check.log" | head -n 1)"
    fi
  else
    fresh=1 why="killed before the first checkpoint: a fresh run follows"
  fi
  [ "$ok" = 1 ] && survived=$((survived + 1))
  printf 'trial %d: kill at %ss: %s%s\n' "$kills" "$delay" "$([ $ok = 1 ] && echo ok || echo FAILED)" \
    ", $why"
done
# The chain of resumes must reach the end of the run it is in.
if [ "$fresh" = 0 ]; then
  if "$afinar" $run --resume "$out/checkpoint.h5" --output "$out" > "$work/trial.log" 2>&1 &&
      [ "$(sha_of "$out/checkpoint.h5")" = "$want" ]; then
    finished_runs=$((finished_runs + 1))
    echo "the last run resumed to its end; final checkpoint equals the reference"
  else
    echo "the last run did not resume to the reference's end: $(tail -n 1 "$work/trial.log")"
    survived=$((survived - 1))
  fi
fi
echo "runs completed through kills and resumes: $finished_runs"
echo "temporaries left by killed writers: $(ls "$out" | grep -c "\.tmp-")"
echo "survived $survived of $trials"
[ "$survived" = "$trials" ]
