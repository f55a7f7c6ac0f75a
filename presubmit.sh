#!/usr/bin/env bash
# The single pre-commit gate: lint, format check, pyright strict, public-API type
# completeness, the docs build (warnings are errors), and the test suite on the stdlib loop,
# on uvloop, and on every other Python of 3.11-3.13 found on this machine. Must be green to
# commit. Extra arguments go to every pytest run (e.g. ./presubmit.sh -x).
set -euo pipefail
cd "$(dirname "$0")"
export UV_PYTHON_DOWNLOADS=never NO_MKDOCS_2_WARNING=1
start=$SECONDS
step() { printf '\n== %s (%ds)\n' "$1" $((SECONDS - start)); }

step "sync the locked environment"
uv sync --locked --quiet
step "ruff"
uv run --locked ruff check .
uv run --locked ruff format --check .
step "pyright strict"
uv run --locked pyright
step "type completeness of the public API"
if ! completeness=$(uv run --locked pyright --verifytypes threaded_async --ignoreexternal); then
    echo "$completeness"
    exit 1
fi
grep -E "^Type completeness score|Functions without docstring" <<<"$completeness"
step "docs (mkdocs build --strict)"
uv run --locked mkdocs build --strict --quiet --site-dir site

main_py=$(uv run --locked python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
step "tests: Python $main_py, stdlib loop"
uv run --locked pytest -q "$@"
step "tests: Python $main_py, uvloop"
uv run --locked pytest -q -p no:cacheprovider --loop=uvloop "$@"

# A Python of the given minor version: pyenv's install, else one uv can find (no download).
find_python() {
    local candidate
    for candidate in "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/"$1".*/bin/python"$1"; do
        if [[ -x "$candidate" ]]; then echo "$candidate"; return 0; fi
    done
    uv python find "$1" 2>/dev/null | grep -v "^$PWD/" || return 1
}

skipped=()
for version in 3.11 3.12 3.13; do
    [[ "$version" == "$main_py" ]] && continue
    if ! python=$(find_python "$version"); then
        skipped+=("$version")
        continue
    fi
    step "tests: Python $version ($python), stdlib loop"
    UV_PROJECT_ENVIRONMENT=".venv-$version" uv run --locked --quiet --python "$python" \
        pytest -q -p no:cacheprovider "$@"
done
if ((${#skipped[@]})); then
    echo "presubmit: Python ${skipped[*]} not found on this machine, suite skipped there"
fi
printf '\npresubmit: all green in %ds\n' $((SECONDS - start))
