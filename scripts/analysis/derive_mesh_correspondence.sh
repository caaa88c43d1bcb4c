#!/usr/bin/env bash
# Rebuilds Models/face/facemesh_correspondence.json (committed; our own derived data): renders the default
# morphable model with varied identity, expression, texture, light and pose, runs the Face Mesh port on
# each render and takes the consensus surface point of every landmark (MeshCorrespondenceBuilder; method
# and residuals in docs/FACEMODEL.md). Needs the MediaPipe models (scripts/analysis/install_mediapipe.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=/opt/swift/usr/bin:$PATH OMP_WAIT_POLICY=PASSIVE
bash scripts/analysis/install_mediapipe.sh
swift build -c release --product tgdm
"$(swift build -c release --show-bin-path)/tgdm" derive-correspondence -o Models/face/facemesh_correspondence.json "$@"
