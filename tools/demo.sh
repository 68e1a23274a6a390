#!/usr/bin/env bash
# The README's main command: installs what is missing (apt), builds tqdb and
# runs the main job. For now that is the quantizer demo: TurboQuant (mse,
# prod, renorm) against product quantization on a bundled real sample of
# 12,000 GloVe word vectors (tools/sample, see its NOTICE.txt), then on
# random unit vectors at d = 1536.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/tools/setup.sh"
bash "$root/tools/build.sh" --target tqdb
tqdb="${TQDB_BUILD_DIR:-$root/build}/tools/tqdb"
echo
"$tqdb" --version
echo
"$tqdb" distortion --input "$root/tools/sample/glove100_12k.fvecs" --bits 1,2,3,4
echo
"$tqdb" distortion --dim 1536 --n 2000 --bits 2,4
