#!/usr/bin/env bash
# Runs every test layer against real services: starts Kafka (KRaft, from Maven Central jars)
# and Redis with scripts/infra.sh, builds the apps the end-to-end tests start as processes,
# runs jest, stops the Kafka it started, and ends with one plain line: "tests: N passed, N failed"
# (the line before it counts skipped tests, which a full run should not have).
#
# Needs: Java 17+ (the broker), Maven (once, to fetch the broker's jars into .infra/), a Redis
# on 127.0.0.1:6379 or redis-server to start one, Debian's chromium (browser tests), curl and jq (the README walkthrough). TWOSTEP_KEEP_INFRA=1 leaves Kafka running for
# the next run (saves its ~15 s start).
set -uo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v java >/dev/null 2>&1 || missing+=("java (Java 17 or later, for the Kafka broker)")
if [ ! -d .infra/kafka/libs ] || [ -z "$(ls -A .infra/kafka/libs 2>/dev/null)" ]; then
  command -v mvn >/dev/null 2>&1 || missing+=("mvn (Maven, to fetch the Kafka broker's jars from Maven Central once)")
fi
if ! (redis-cli -h 127.0.0.1 -p "${REDIS_PORT:-6379}" ping 2>/dev/null | grep -q PONG); then
  command -v redis-server >/dev/null 2>&1 || missing+=("redis-server (or a Redis answering on 127.0.0.1:${REDIS_PORT:-6379})")
fi
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=("chromium (apt-get install -y chromium), for the browser tests in test/web")
command -v curl >/dev/null 2>&1 || missing+=("curl (apt-get install -y curl), for the README walkthrough in test/start")
command -v jq >/dev/null 2>&1 || missing+=("jq (apt-get install -y jq), for the README walkthrough in test/start")
if [ ${#missing[@]} -gt 0 ]; then
  echo "npm test needs these and did not find them:" >&2
  for item in "${missing[@]}"; do echo "  - $item" >&2; done
  echo "tests: 0 passed, 1 failed"
  exit 1
fi

kafka_was_up=0
bash scripts/infra.sh status >/dev/null 2>&1 && kafka_was_up=1
bash scripts/infra.sh up || { echo "infrastructure failed to start"; echo "tests: 0 passed, 1 failed"; exit 1; }
stop_infra() {
  if [ "$kafka_was_up" = 0 ] && [ "${TWOSTEP_KEEP_INFRA:-0}" != 1 ]; then bash scripts/infra.sh down >/dev/null 2>&1 || true; fi
}
trap stop_infra EXIT
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
    const skipped = r.numPendingTests + r.numTodoTests;
    const skippedSuites = r.testResults.filter((suite) => suite.assertionResults.length > 0 && suite.assertionResults.every((test) => test.status === "pending" || test.status === "todo"));
    console.log(`skipped: ${skipped} tests, ${skippedSuites.length} whole suites${skippedSuites.length ? ": " + skippedSuites.map((s) => require("path").relative(process.cwd(), s.name)).join(", ") : ""}`);
    console.log(`tests: ${r.numPassedTests} passed, ${failed} failed`);
  ' "$PWD/$results"
else
  echo "tests: 0 passed, 1 failed"
  status=1
fi
exit $status
