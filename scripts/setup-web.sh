#!/usr/bin/env bash
# The in-browser page's runtime: onnxruntime-web from the npm registry, at the version web/package-lock.json
# pins (checked against its integrity hashes), with only the three files the page loads copied to
# web/vendor/ (about 14 MB, ignored by git: the WebAssembly build is too large to keep in the repository).
# Nothing is fetched when the page runs. Needs Node.js's npm; safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/../web"
if ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        source ../scripts/hosts/apt.sh
        apt_install npm
    else
        echo "setup-web.sh: npm is needed for the web page's runtime (Debian: apt-get install npm)" >&2
        exit 1
    fi
fi
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
mkdir -p vendor
for file in ort.wasm.min.mjs ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm; do
    cp node_modules/onnxruntime-web/dist/$file vendor/
done
echo "web page runtime: onnxruntime-web $(node -p 'require("./node_modules/onnxruntime-web/package.json").version') in web/vendor/"
