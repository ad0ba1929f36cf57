#!/usr/bin/env bash
# Packs what a GPU machine without .NET, NuGet or network needs to run the platform's model benchmarks
# on its own CUDA libtorch (PyTorch's): deploy/gpu-check published for linux-x64, the .NET runtime it
# runs on, and check.sh, which runs it there. The CPU libtorch that the build bundles is left out
# (about 500 MB, and the machine's libtorch replaces it); libLibTorchSharp.so, TorchSharp's binding,
# stays. Usage: deploy/gpu/bundle.sh [OUT_DIR]   (default: .gpu in the repository root)
# OUT_DIR then holds bundle.tar.xz, check.sh and missing_symbols.py. See README, "Running on a GPU
# machine without the CUDA bundle".
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="$(mkdir -p "${1:-$repo/.gpu}" && cd "${1:-$repo/.gpu}" && pwd)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

dotnet publish "$repo/deploy/gpu-check" -c Release -r linux-x64 --self-contained false -o "$stage/app" -v q -nologo
# Every native library of the publish except TorchSharp's binding and SkiaSharp's is the CPU libtorch's.
find "$stage/app" -maxdepth 1 -type f \( -name '*.so' -o -name '*.so.*' \) \
  ! -name libLibTorchSharp.so ! -name libSkiaSharp.so -delete
rm -f "$stage/app"/*.pdb

dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"
runtime_version="$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$stage/app/gpu-check.runtimeconfig.json" | head -1)"
runtime="$(ls -d "$dotnet_root"/shared/Microsoft.NETCore.App/"${runtime_version%.*}".* | sort -V | tail -1)"
mkdir -p "$stage/dotnet/shared/Microsoft.NETCore.App"
cp -a "$dotnet_root/dotnet" "$dotnet_root/host" "$stage/dotnet/"
cp -a "$runtime" "$stage/dotnet/shared/Microsoft.NETCore.App/"

tar -C "$stage" -cf - app dotnet | xz -T0 -6 > "$out/bundle.tar.xz"
cp "$here/check.sh" "$here/missing_symbols.py" "$out/"
echo "bundle=$out/bundle.tar.xz size_mib=$(( $(stat -c %s "$out/bundle.tar.xz") / 1048576 )) runtime=$(basename "$runtime")"
