#!/usr/bin/env bash
# Run galaxy-importer, the checks Galaxy and Automation Hub run on an uploaded
# collection, on the artifact that `make build` wrote: metadata schema, file
# checksums, ansible-doc of every plugin, ansible-lint of the unpacked content,
# role READMEs, changelog, execution-environment files. Settings come from
# hack/galaxy-importer.cfg (offline; no ansible-test container).
#
# galaxy-importer exits 0 as long as the upload would be accepted, and reports
# plugin doc failures and lint findings only as ERROR/WARNING lines. This
# script fails on any of them, except the notice that the (empty) sanity ignore
# files exist, and checks that every module and filter got docs with examples.
#
# Usage: hack/galaxy-importer.sh build/dist/clusterfabric-multilink-X.Y.Z.tar.gz
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
artifact="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
work="$root/build/galaxy-importer"
# A collection this size packs to a few hundred KiB; more means something like a
# virtualenv or test output slipped past build_ignore.
max_bytes=$((2 * 1024 * 1024))

fail() { echo "galaxy-importer: $*" >&2; exit 1; }

[ -f "$artifact" ] || fail "no artifact $1 (run make build)"

# 1. What the artifact packs.
size=$(stat -c %s "$artifact")
[ "$size" -le "$max_bytes" ] || fail "$artifact is $size bytes (limit $max_bytes)"
packed_dev_files=$(tar -tzf "$artifact" |
    grep -E '^(\.venv|\.git|\.ci|build|hack|benchmarks|tests/output|\.pytest_cache|\.hypothesis|\.ansible|\.cache)(/|$)|(^|/)__pycache__(/|$)|\.pyc$' || true)
[ -z "$packed_dev_files" ] || fail "development files packed (extend build_ignore in galaxy.yml):
$packed_dev_files"

# 2. The importer. It writes importer_result.json into the current directory.
rm -rf "$work"
mkdir -p "$work/tmp"
cd "$work"
set +e
GALAXY_IMPORTER_CONFIG="$root/hack/galaxy-importer.cfg" \
GALAXY_IMPORTER_TMP_ROOT_DIR="$work/tmp" \
    python -m galaxy_importer.main "$artifact" 2>&1 | tee importer.log
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] || fail "galaxy-importer exited $status"
grep -qx 'Importer processing completed successfully' importer.log ||
    fail "galaxy-importer did not complete"
findings=$(grep -E '^(ERROR|CRITICAL|WARNING):' importer.log |
    grep -Ev '^WARNING: Ignore files skip ansible-test sanity tests, found ignore-[0-9.]+\.txt with 0 statement\(s\)$' || true)
[ -z "$findings" ] || fail "findings:
$findings"

# 3. What Galaxy would show: docs and examples for every module and filter.
python - importer_result.json <<'PY'
import json
import sys

with open(sys.argv[1]) as fh:
    contents = json.load(fh)["docs_blob"]["contents"]
plugins = [c for c in contents if c["content_type"] in ("module", "filter")]
missing = ["%s %s" % (c["content_type"], c["content_name"]) for c in plugins
           if not (c.get("doc_strings") or {}).get("doc") or not (c.get("doc_strings") or {}).get("examples")]
if not plugins or missing:
    sys.exit("galaxy-importer: no docs or examples for: %s" % (", ".join(missing) or "any plugin"))
print("galaxy-importer: %d modules and filters documented with examples" % len(plugins))
PY
