#!/usr/bin/env bash
# Lint, format check, strict type check and the whole test suite. Must be green to commit.
set -euo pipefail
cd "$(dirname "$0")"
uv sync --locked --quiet
uv run --locked ruff check .
uv run --locked ruff format --check .
uv run --locked pyright
uv run --locked pytest -q "$@"
