#!/usr/bin/env bash
# Run `ansible-test sanity` on a copy of the collection.
#
# ansible-test needs the collection at a real path ending in
# ansible_collections/<namespace>/<name>; our repo root *is* the collection, so
# we copy every file git knows about (tracked + untracked-but-not-ignored) to
# build/sanity/ansible_collections/clusterfabric/multilink, give the copy its
# own git index (ansible-test lists content with git when it finds .git) and
# run there. Extra arguments are passed to ansible-test (e.g. --skip-test X).
#
# Environment: VENV (default .venv), SANITY_PYTHON (default 3.11).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${VENV:-$root/.venv}"
python_version="${SANITY_PYTHON:-3.11}"
dest="$root/build/sanity/ansible_collections/clusterfabric/multilink"

# 1. Fresh copy of the content.
rm -rf "$dest"
mkdir -p "$dest"
(
    cd "$root"
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do
            # skip files deleted from the work tree but still in the index
            if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
        done |
        tar --null --no-recursion -T - -cf - | tar -xf - -C "$dest"
)
(
    cd "$dest"
    git init -q .
    git add -A .
)

# 2. ansible-test bootstraps pip in each sanity venv with a get-pip.py it
#    downloads from a host we cannot reach; it uses a cached copy if there is
#    one, so put our offline stand-in there.
pip_version="$("$venv/bin/python" - <<'PY'
import re, ansible_test._internal.python_requirements as m
src = open(m.__file__.replace('.pyc', '.py')).read()
print(re.search(r"default_packages = dict\(\s*pip='([0-9.]+)'", src).group(1))
PY
)"
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if ! cmp -s "$root/hack/ansible-test-get-pip.py" "$cache"; then
    mkdir -p "$(dirname "$cache")"
    cp "$root/hack/ansible-test-get-pip.py" "$cache"
fi

# 3. Run. Sanity-test venvs are cached by ansible-test under
#    ~/.ansible/test/venv/sanity.<test>/<python>/<hash>, so only the first run
#    on a machine installs anything.
cd "$dest"
export PATH="$venv/bin:$PATH"
exec ansible-test sanity --python "$python_version" --requirements --color no "$@"
