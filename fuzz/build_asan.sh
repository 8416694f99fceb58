#!/bin/sh
# Build regf with its C accelerator under AddressSanitizer + UndefinedBehaviorSanitizer,
# for the atheris harnesses. The build goes to fuzz/.asan/ (a copy of the package with the
# sanitized extension); the normal in-place build in regf/_accel/ is left alone.
#
#   fuzz/build_asan.sh            # then: . fuzz/.asan/env.sh  (run_all.sh does this)
#
# Python itself is not sanitized, so libasan must be loaded first (LD_PRELOAD), leak
# detection is off (the interpreter's own allocations would all be reported), and any
# ASan or UBSan report aborts the process, which atheris records as a crash.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/fuzz/.asan"
python=${PYTHON:-python}
rm -rf "$out"
mkdir -p "$out/pkg"
cp -r "$root/regf" "$out/pkg/regf"
find "$out/pkg/regf" \( -name '*.so' -o -name __pycache__ \) -prune -exec rm -rf {} +
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
cd "$root"
CFLAGS="$san" LDFLAGS="$san" "$python" setup.py -q build_ext --force \
    --build-lib "$out/pkg" --build-temp "$out/tmp" >"$out/build.log" 2>&1 || true
so=$(ls "$out"/pkg/regf/_accel/_regf_c*.so 2>/dev/null | head -n 1)
if [ -z "$so" ]; then
    echo "build_asan: the sanitized extension was not built (see $out/build.log)" >&2
    exit 1
fi
# Atheris ships clang's ASan runtime with libFuzzer linked in (asan_with_fuzzer.so; it
# also has the UBSan handlers). Preloading gcc's libasan instead works too, but then
# libFuzzer's coverage hooks resolve to libasan and the Python coverage atheris steers by
# is lost. So the extension is linked again without gcc's runtimes (-fsanitize at link
# time would add libasan/libubsan as dependencies); its __asan_*/__ubsan_* calls resolve
# to the preloaded runtime (same ASan ABI, v8).
runtime=$("$python" -c 'import atheris, os; print(os.path.join(atheris.path(), "asan_with_fuzzer.so"))')
if [ -f "$runtime" ] && [ "${REGF_ASAN_RUNTIME:-atheris}" = atheris ]; then
    objs=$(find "$out/tmp" -name '*.o')
    gcc -shared -o "$so" $objs
    preload="$runtime"
else
    preload="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
fi
cat >"$out/env.sh" <<ENV
# Source this to run regf with the sanitized C accelerator.
export PYTHONPATH="$out/pkg\${PYTHONPATH:+:\$PYTHONPATH}"
export LD_PRELOAD="$preload"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:allocator_may_return_null=1:symbolize=1"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"
export REGF_BACKEND=c
ENV
# Prove it: the sanitized build loads, is the C backend, and ASan is live in the process.
. "$out/env.sh"
cd "$out"  # not the checkout: '' on sys.path must not find the unsanitized package
"$python" - <<'PY'
import ctypes, os, regf, regf._accel._regf_c as ext
assert regf.BACKEND == "c", regf.BACKEND
assert "/fuzz/.asan/pkg/" in ext.__file__, ext.__file__
ctypes.CDLL(None).__asan_init  # only present when libasan is loaded
print(f"build_asan: OK ({ext.__file__}, runtime {os.environ['LD_PRELOAD']})")
PY
