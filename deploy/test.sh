#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need, starts PostgreSQL on
# loopback, builds, runs every test project, and ends with one line `N passed, N failed, N skipped`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash deploy/setup.sh
eval "$(bash deploy/postgres.sh start)"
trap 'bash deploy/postgres.sh stop' EXIT

mkdir -p .state
log=.state/test.log
set +e
rm -rf .state/test-results
# TRX files only to list the slowest tests at the end (where a CI run's time goes).
dotnet test Platform.sln -c Release --logger trx --results-directory .state/test-results 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
python3 deploy/slowest-tests.py .state/test-results 25 || true

# dotnet test prints one "Passed!/Failed! - Failed: F, Passed: P, Skipped: S, ..." line per test assembly.
# A test host that crashed counts its run as one failed test more: its summary line counts only the tests that ended before it.
awk -F'[:,]' '/(Passed|Failed)! +- +Failed:/ { f += $2; p += $4; s += $6 } /Catastrophic failure: Test process crashed/ { f += 1 } END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
