#!/usr/bin/env bash
# Runs every test layer against real services: starts Kafka (KRaft, from Maven Central jars)
# and Redis with scripts/infra.sh, builds the apps the end-to-end tests start as processes,
# runs jest, and ends with one plain line: "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/infra.sh up || { echo "infrastructure failed to start"; echo "tests: 0 passed, 1 failed"; exit 1; }
set -a; . .infra/env; set +a
# Suites that need Kafka or Redis fail (never skip) when these are set and the service is away.
export TWOSTEP_REQUIRE_INFRA=1

npm run build --silent || { echo "build failed"; echo "tests: 0 passed, 1 failed"; exit 1; }

results=".infra/jest-results.json"
rm -f "$results"
npx jest --ci --json --outputFile="$results" "$@"
status=$?

if [ -f "$results" ]; then
  node -e '
    const r = require(process.argv[1]);
    const failed = r.numFailedTests + r.numRuntimeErrorTestSuites;
    console.log(`tests: ${r.numPassedTests} passed, ${failed} failed`);
  ' "$PWD/$results"
else
  echo "tests: 0 passed, 1 failed"
  status=1
fi
exit $status
