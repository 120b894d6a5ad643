#!/usr/bin/env bash
# The test command from the README: unit and integration tests (Swift Testing), then the
# end-to-end tests that drive the built `tally` binary with the real AWS CLI, boto3 and moto.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product tally
swift test
if compgen -G "Tests/e2e/test_*.py" > /dev/null; then
    TALLY_BIN="$(swift build --product tally --show-bin-path)/tally" python3 -m pytest -q Tests/e2e
fi
