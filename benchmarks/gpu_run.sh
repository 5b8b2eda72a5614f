#!/usr/bin/env bash
# Everything a GPU machine should check, in one short run (under 5 minutes, see below):
#
#   1. the machine: GPU, driver, library versions;
#   2. benchmarks/gpu_check.py: CPU/GPU agreement, sksplice against the authors' ADMM
#      on the same GPU (10,000 targets x 15,000 concepts x 512 dims), a 50,000-target run;
#   3. benchmarks/gpu_profile.py: where each GPU solve spends its time, kernels launched and
#      host synchronisations;
#   4. benchmarks/bench_text.py and benchmarks/bench_pipeline.py: the vocabulary's first
#      embedding and images to concepts end to end against a plain DataLoader loop;
#   5. benchmarks/bench_path.py: a sparsity path of 5 penalties against one solve per
#      penalty, with the working set (solver auto: the whole path in one batch) and
#      with ADMM (one warm-started solve per penalty);
#   6. the compute-side tests with CUDA visible, so that every device="auto" default
#      takes the GPU path (TF32 products, CUDA out-of-memory handling, fp16/bf16).
#
# Usage, from the repository root:
#
#   bash benchmarks/gpu_run.sh [RESULTS_DIR [ARCHIVE]]   # default: benchmarks/results/gpu
#
# Each stage has its own time limit, cut to what is left of the whole run's budget
# (GPU_RUN_BUDGET seconds, default 285: the run ends within 5 minutes, and a stage
# that no longer fits is skipped and says so). Logs and JSON land in RESULTS_DIR
# (this script's own output too, as gpu_run.log); after every stage RESULTS_DIR is
# packed into ARCHIVE (default: $OUT/gpu_run.tar.gz where OUT names the folder collected
# after the run, which may bring back only a few files; none elsewhere).
#
# A GPU machine without network access whose environment lacks some of sksplice's
# dependencies (benchmarks/gpu_wheels.txt names them): their wheels are installed from
# GPU_WHEELS (default .whl, brought with the repository) into a temporary folder put on
# PYTHONPATH, and the authors' reference files are read from .refdata/splice when that
# folder is there (benchmarks/README.md, "GPU check", says how to bring both).
set -u
results=${1:-benchmarks/results/gpu}
archive=${2:-${GPU_RUN_ARCHIVE:-${OUT:+$OUT/gpu_run.tar.gz}}}
mkdir -p "$results"
exec > >(tee "$results/gpu_run.log") 2>&1
tee_pid=${!:-}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MPLBACKEND=Agg
python=${PYTHON:-python3}
deadline=$((SECONDS + ${GPU_RUN_BUDGET:-285}))
# pack: RESULTS_DIR into ARCHIVE (a temporary file renamed into place), where one is named.
pack() {
  [[ -n $archive ]] || return 0
  mkdir -p "$(dirname "$archive")"
  tar -czf "$archive.tmp" -C "$(dirname "$results")" "$(basename "$results")" 2>/dev/null &&
    mv -f "$archive.tmp" "$archive"
}
# limit WANTED: the stage's limit in seconds, at most what is left before the deadline
# (10 s are kept for the summary); 0 when under 5 s would be left.
limit() {
  local left=$((deadline - SECONDS - 10))
  if ((left < 5)); then echo 0; elif (($1 < left)); then echo "$1"; else echo "$left"; fi
}
# run_stage NAME WANTED LOG COMMAND...: COMMAND under ``timeout``, its output in LOG.
run_stage() {
  local name=$1 seconds
  seconds=$(limit "$2")
  local log=$3
  shift 3
  if ((seconds == 0)); then
    echo "$name skipped: the run's budget is spent" | tee "$log"
    return
  fi
  timeout "$seconds" "$@" >"$log" 2>&1
  echo "$name exit code: $? (limit ${seconds} s)" | tee -a "$log"
  pack
}

echo "== setup"
wheels=${GPU_WHEELS:-.whl}
if compgen -G "$wheels/*.whl" >/dev/null; then
  site=$(mktemp -d "${TMPDIR:-/tmp}/sksplice-site.XXXXXX")
  if timeout 120 $python -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target "$site" "$wheels"/*.whl; then
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
    echo "installed $(ls "$wheels"/*.whl | wc -l) wheels of $wheels into $site (on PYTHONPATH)"
  else
    echo "could not install the wheels of $wheels"
  fi
else
  echo "no wheels in $wheels: the packages of benchmarks/gpu_wheels.txt must be installed already"
fi
if [[ -z ${SKSPLICE_REFERENCE_DATA:-} && -d .refdata/splice ]]; then
  export SKSPLICE_REFERENCE_DATA=$PWD/.refdata/splice
fi
echo "reference data: ${SKSPLICE_REFERENCE_DATA:-none, the embedding benchmarks take whole words of the CLIP tokenizer}"

echo "== machine" | tee "$results/machine.txt"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
  $python - <<'PY'
import platform, numpy, pandas, scipy, sklearn, torch
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda,
      "numpy", numpy.__version__, "scipy", scipy.__version__, "scikit-learn", sklearn.__version__,
      "pandas", pandas.__version__)
print("cuda available:", torch.cuda.is_available(), "cpu cores:", __import__("os").cpu_count())
import importlib
missing = []
for name in ("sksplice.transformer", "sksplice.embedders", "open_clip", "pooch", "platformdirs"):
    try:
        importlib.import_module(name)
    except ImportError as exc:
        missing.append(f"{name} ({exc})")
print("imports:", "all there" if not missing else "MISSING " + "; ".join(missing))
PY
} 2>&1 | tee -a "$results/machine.txt"
pack

echo "== gpu_check"
run_stage gpu_check "${GPU_CHECK_TIMEOUT:-120}" "$results/gpu_check.log" \
  $python benchmarks/gpu_check.py --out "$results/gpu_check.json"

echo "== profile"
run_stage gpu_profile "${GPU_PROFILE_TIMEOUT:-60}" "$results/gpu_profile.log" \
  $python benchmarks/gpu_profile.py --out "$results/gpu_profile.txt"

echo "== embedding benchmarks"
# The first run (10,000 LAION concepts through the text tower, shortened vs full length)
# and images -> CLIPEmbedder -> SpliceTransformer against a plain DataLoader loop with as
# many worker processes as cores (2,000 JPEGs of 500x375, written first).
run_stage bench_text "${TEXT_TIMEOUT:-60}" "$results/bench_text.log" \
  $python benchmarks/bench_text.py --device cuda --subset 512 --batch-size 256 --out "$results"
run_stage bench_pipeline "${PIPELINE_TIMEOUT:-90}" "$results/bench_pipeline.log" \
  $python benchmarks/bench_pipeline.py --device cuda --n-images 2000 --batch-size 256 \
  --workers "$(nproc)" --out "$results"

echo "== sparsity path"
for solver in working_set admm; do
  run_stage "bench_path ($solver)" "${PATH_TIMEOUT:-40}" "$results/bench_path_$solver.log" \
    $python benchmarks/bench_path.py --problem synthetic --device cuda --solver "$solver" \
    --n-targets 5000 --repeats 1 --out "$results" --tag "_gpu_$solver"
done

echo "== tests with CUDA visible"
# With pytest-xdist the tests run in parallel workers that share the cores (two
# threads each); without it, one after the other.
workers=()
if $python -c "import xdist" 2>/dev/null; then workers=(-n "${GPU_TEST_WORKERS:-8}"); fi
run_stage pytest "${GPU_TESTS_TIMEOUT:-120}" "$results/pytest.log" \
  env OMP_NUM_THREADS=2 $python -m pytest -o addopts="" -p no:cacheprovider -v -rfEs "${workers[@]}" \
  --junitxml="$results/pytest.xml" \
  tests/test_solvers.py tests/test_transformer.py tests/test_properties.py tests/test_faults.py \
  tests/test_editing.py tests/test_zero_shot.py tests/test_embedders.py tests/test_dictionary.py \
  tests/test_bad_inputs.py tests/test_analysis.py tests/test_pandas_compat.py

echo "== summary"
tail -n 25 "$results/pytest.log"
grep -E "^== |kernels busy|kernels launched" "$results/gpu_profile.txt" 2>/dev/null
$python - "$results/gpu_check.json" <<'PY'
import json, sys
try:
    s = json.load(open(sys.argv[1]))
except (OSError, ValueError) as exc:
    print("no gpu_check summary:", exc)
    raise SystemExit(0)
print("errors:", s.get("errors"))
print("targets:", s.get("targets"))
for name, t in s.get("sksplice", {}).items():
    if isinstance(t, dict):
        print(f"{name:12s} {t['time_s']:.3f} s  {t['embeddings_per_s']:,.0f}/s  "
              f"iter {t['n_iter']}  gap {t['reported_worst_gap']:.1e}")
print("dense product:", s.get("sksplice", {}).get("dense_product_s"))
print("authors:", s.get("authors_admm"))
print("speed-up:", s.get("speedup_vs_authors_admm"))
print("scaling:", s.get("scaling"))
print("agreement:", {k: v if not isinstance(v, dict) else v.get("ok") for k, v in s.get("agreement", {}).items()})
PY
$python benchmarks/summarize.py "$results"/text_first_run.json "$results"/pipeline.json 2>/dev/null
# (the log's last lines are written once tee has read them all: its input is closed
# and it is waited for, where bash can wait for it, else given a second)
exec >/dev/null 2>&1
if [[ -n $tee_pid ]]; then wait "$tee_pid" 2>/dev/null || sleep 1; else sleep 1; fi
pack
