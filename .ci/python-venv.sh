#!/usr/bin/env bash
# Creates the Python environment in which Arcade's own client (arcadepy) talks to FACT's Engine
# API (tests/tests/server/engine_arcadepy.rs), MCP's official SDK talks to /mcp, and Arcade's
# own models and worker (arcade-core, arcade-serve) judge FACT's worker endpoints
# (tests/tests/worker/python.rs), with every package pinned, and prints the environment that
# points the tests at it. Idempotent: a venv already holding the pins is kept.
#   eval "$(bash .ci/python-venv.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.ci/venv
# arcadepy 1.10.0 and what pip resolved for it (docs/ARCHITECTURE.md, "Engine API"); the
# official MCP SDK, mcp 2.3.0, and what pip resolved for it (tests/tests/mcp/python.rs);
# arcade-core 4.23.0 and arcade-serve 3.6.0 and what pip resolved for them with the two above
# (docs/ARCHITECTURE.md, "Arcade worker"). arcade-serve's OpenTelemetry SDK wants
# opentelemetry-api==1.45.1 exactly, which mcp (>=1.28) accepts. Resolved in a scratch venv
# (pip install <the four>; pip freeze): one venv holds all of them, no extras.
pins=(
    arcadepy==1.10.0
    anyio==4.16.0 distro==1.9.0 httpx==0.29.0 httpcore==1.0.9 h11==0.16.0
    pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
    typing_extensions==4.16.0 sniffio==1.3.1 idna==3.21 certifi==2026.10.19.post1
    mcp==2.3.0 mcp-types==2.3.0 httpx2==2.17.0 httpcore2==2.17.0 attrs==26.1.0 cffi==2.1.1
    click==8.5.1 cryptography==51.0.1 jsonschema==4.26.0 jsonschema-specifications==2025.9.1
    opentelemetry-api==1.45.1 pycparser==3.12 PyJWT==2.15.1 python-multipart==0.0.34
    referencing==0.37.0 rpds-py==2026.9.1 sse-starlette==3.7.1 starlette==1.10.0
    truststore==0.10.5 uvicorn==0.55.0
    arcade-core==4.23.0 arcade-serve==3.6.0 aiohappyeyeballs==2.7.1 aiohttp==3.14.5
    aiosignal==1.4.0 annotated-doc==0.0.7 asgiref==3.13.0 backoff==2.2.1
    charset-normalizer==3.5.3 fastapi==0.165.0 frozenlist==1.8.0
    googleapis-common-protos==1.76.0 loguru==0.7.3 multidict==7.2.1
    opentelemetry-exporter-http-transport==0.66b1 opentelemetry-exporter-otlp-common==0.66b1
    opentelemetry-exporter-otlp-proto-common==1.45.1 opentelemetry-exporter-otlp-proto-http==1.45.1
    opentelemetry-instrumentation==0.66b1 opentelemetry-instrumentation-aiohttp-client==0.66b1
    opentelemetry-instrumentation-asgi==0.66b1 opentelemetry-instrumentation-fastapi==0.66b1
    opentelemetry-instrumentation-httpx==0.66b1 opentelemetry-instrumentation-requests==0.66b1
    opentelemetry-proto==1.45.1 opentelemetry-sdk==1.45.1 opentelemetry-semantic-conventions==0.66b1
    opentelemetry-util-http==0.66b1 packaging==26.4 portalocker==4.4.2 posthog==6.9.3
    propcache==0.5.4 protobuf==7.36.2 python-dateutil==4.0.0 PyYAML==6.0.4 requests==2.34.2
    six==1.17.0 toml==0.10.2 types-python-dateutil==2.9.0.20241003 types-pytz==2024.2.0.20241003
    types-toml==0.10.8.20240310 tzdata==2026.6 urllib3==2.8.0 watchfiles==1.3.0 wrapt==2.5.2
    yarl==1.25.1
)
stamp="$venv/.pins"

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    as_root apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-venv >&2
fi

if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${pins[*]}" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "${pins[@]}" >&2
    "$venv/bin/python" -m pip check >&2
    echo "${pins[*]}" >"$stamp"
fi

echo "export FACT_TEST_PYTHON=$(pwd)/$venv/bin/python"
