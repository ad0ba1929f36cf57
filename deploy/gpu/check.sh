#!/usr/bin/env bash
# Runs the platform's model code on a GPU machine that has PyTorch (with its CUDA libtorch) but no .NET:
# unpacks bundle.tar.xz (deploy/gpu/bundle.sh), checks which symbols TorchSharp's binding needs that the
# machine's libtorch lacks, then runs gpu-check's probe, `bench train` (tiny, then base with a larger
# batch) and `bench decode` on the GPU against that libtorch. Each step has a time limit taken from one
# overall budget, so a hang costs that step only. Usage, from anywhere:
#   bash .gpu/check.sh            (environment: OUT=folder for the log, default /tmp;
#                                  CHECK_SECONDS=overall budget, default 280; DEVICE=cuda;
#                                  TORCH_LIB=libtorch folder, default the one python3's torch has;
#                                  BASE_BATCH=samples per base step, default 144;
#                                  PROBE_MATMUL=side of the probe's timed matmul, default 8192)
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${OUT:-/tmp}"
mkdir -p "$out"
exec > >(tee -a "$out/log") 2>&1
deadline=$(( $(date +%s) + ${CHECK_SECONDS:-280} ))
device="${DEVICE:-cuda}"

# step NAME SECONDS COMMAND...: runs COMMAND for at most SECONDS or what is left of the budget.
step() {
  local name="$1" limit="$2"; shift 2
  local left=$(( deadline - $(date +%s) ))
  (( left < limit )) && limit=$left
  if (( limit < 5 )); then echo "== $name: skipped, budget spent"; return 124; fi
  echo "== $name (limit ${limit}s): $*"
  local start=$(date +%s%N) rc
  timeout -k 5 "$limit" "$@"; rc=$?
  echo "== $name: rc=$rc ms=$(( ($(date +%s%N) - start) / 1000000 ))"
  return $rc
}

set -x
uname -a; nproc
nvidia-smi || true
work="${GPU_CHECK_DIR:-/tmp/gpu-check}"
rm -rf "$work"; mkdir -p "$work"
tar -xJf "$here/bundle.tar.xz" -C "$work" || exit 2
app="$work/app"
torch_lib="${TORCH_LIB:-$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')}"
python3 -c 'import torch; print("python_torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' || true
ls "$torch_lib"
# PyTorch's CUDA libraries find the nvidia-* wheels' libraries by their own RPATH; the binding, loaded
# from elsewhere, finds libtorch through the search path.
nvidia_libs="$(find "$torch_lib/../../nvidia" -maxdepth 3 -type d -name lib 2>/dev/null | sort | tr '\n' ':')"
nvidia_libs="${nvidia_libs%:}"
export LD_LIBRARY_PATH="$torch_lib${nvidia_libs:+:$nvidia_libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export DOTNET_ROOT="$work/dotnet"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
set +x

echo "== which symbols libLibTorchSharp.so (TorchSharp 0.107, built for libtorch 2.10) needs that this libtorch lacks"
ldd "$app/libLibTorchSharp.so"
providers=()
for lib in libtorch.so libtorch_cpu.so libtorch_cuda.so libc10.so libc10_cuda.so; do
  [[ -f "$torch_lib/$lib" ]] && providers+=("$torch_lib/$lib")
done
# The system libraries the binding links with, as the loader resolves them here.
while read -r path; do providers+=("$path"); done < <(ldd "$app/libLibTorchSharp.so" | awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }' | grep -v "$torch_lib")
python3 "$here/missing_symbols.py" "$app/libLibTorchSharp.so" "${providers[@]}" --show 100000 > "$out/missing_symbols.txt"
symbols_rc=$?
head -31 "$out/missing_symbols.txt"
echo "symbols_rc=$symbols_rc (full list: missing_symbols.txt)"

run=("$DOTNET_ROOT/dotnet" "$app/gpu-check.dll")
# Each step's exit status is printed; a failure does not stop the next: they test different code.
step probe 60 "${run[@]}" probe --device "$device" --matmul-size "${PROBE_MATMUL:-8192}"
probe_rc=$?
if (( probe_rc != 0 )) && (( symbols_rc != 0 )); then
  echo "== the probe failed and symbols are missing: the binding cannot use this libtorch; nothing more is run"
  exit 3
fi
step train-tiny 60 "${run[@]}" bench train --device "$device" --preset tiny
step train-base 90 "${run[@]}" bench train --device "$device" --preset base --batch "${BASE_BATCH:-144}" --steps 20
step decode-tiny 40 "${run[@]}" bench decode --device "$device" --preset tiny
step decode-base 50 "${run[@]}" bench decode --device "$device" --preset base --rounds 3
nvidia-smi --query-gpu=name,memory.used,memory.total,clocks.sm --format=csv || true
echo "== done"
