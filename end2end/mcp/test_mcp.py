"""The MCP server at /mcp, driven by a client we did not write: the official
Python MCP SDK (PyPI `mcp`, installed into tools/venv by
`scripts/setup.sh --mcp-client`) over streamable HTTP, against a real
`lull serve` in token mode.

Run: tools/venv/bin/python -m pytest end2end/mcp
Env: LULL_BIN (default target/release/lull, else target/debug/lull);
     LULL_MCP_DB=postgres with LULL_TEST_POSTGRES_URL (an admin URL) to run on
     a throwaway PostgreSQL database instead of a temporary SQLite file.
"""

import asyncio
import os
import queue
import re
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

ROOT = Path(__file__).resolve().parents[2]


def lull_bin() -> str:
    if os.environ.get("LULL_BIN"):
        return os.environ["LULL_BIN"]
    for profile in ("release", "debug"):
        p = ROOT / "target" / profile / "lull"
        if p.exists():
            return str(p)
    raise RuntimeError("no lull binary: build it (cargo build --release -p server) or set LULL_BIN")


def database():
    """A fresh database URL and a function that drops it."""
    if os.environ.get("LULL_MCP_DB", "sqlite") == "postgres":
        admin = os.environ.get("LULL_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
        name = f"lull_mcp_{uuid.uuid4().hex[:12]}"
        subprocess.run(["psql", admin, "-qAtc", f'CREATE DATABASE "{name}"'], check=True)
        base = admin.rsplit("/", 1)[0]

        def drop():
            subprocess.run(["psql", admin, "-qAtc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False)

        return f"{base}/{name}", drop
    tmp = tempfile.TemporaryDirectory(prefix="lull-mcp-")
    return f"sqlite://{tmp.name}/lull.db", tmp.cleanup


@pytest.fixture(scope="module")
def lull():
    """A `lull serve` in token mode, and a token per role."""
    url, drop = database()
    binary = lull_bin()
    env = {**os.environ, "DATABASE_URL": url, "NO_COLOR": "1"}

    def token(name: str, role: str) -> str:
        out = subprocess.run(
            [binary, "token", "create", "--name", name, "--role", role],
            env=env, check=True, capture_output=True, text=True,
        )
        return out.stdout.strip()

    # Creating the first token runs the migrations too.
    tokens = {
        "operator": token("op-agent", "operator"),
        "viewer": token("viewer-agent", "viewer"),
        "worker": token("w1", "worker"),
        "producer": token("app-1", "producer"),
    }
    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--static-dir", "/nonexistent"],
        env={**env, "LULL_AUTH": "token", "LULL_PAUSE_POLL_INTERVAL_MS": "1500"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: "queue.Queue[str]" = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    base = None
    while base is None:
        try:
            line = lines.get(timeout=60)
        except queue.Empty:
            proc.kill()
            raise RuntimeError("lull serve did not say where it listens within 60 s")
        m = re.search(r"listening on (http://[0-9.:]+)", line)
        if m:
            base = m.group(1)
    try:
        yield base, tokens
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        drop()


def client(base: str, token: str) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return Client(streamable_http_client(f"{base}/mcp", http_client=http))


async def tool_names(c: Client) -> set:
    return {t.name for t in (await c.list_tools()).tools}


def test_tools_listed_by_role(lull):
    base, tokens = lull

    async def main():
        async with client(base, tokens["operator"]) as op:
            names = await tool_names(op)
            assert {"system.status", "system.pause", "system.resume", "events.list",
                    "workers.list", "workers.action", "queue.enqueue"} <= names
            assert "queue.claim" not in names
            tools = {t.name: t for t in (await op.list_tools()).tools}
            assert "reason" in tools["system.pause"].input_schema["properties"]
        async with client(base, tokens["worker"]) as w:
            assert await tool_names(w) == {"queue.claim", "queue.heartbeat", "queue.complete", "queue.fail"}
        async with client(base, tokens["viewer"]) as v:
            assert await tool_names(v) == {"system.status", "workers.list", "events.list"}

    asyncio.run(main())


def test_claim_while_paused_then_resume(lull):
    base, tokens = lull

    async def main():
        async with client(base, tokens["producer"]) as app, \
                client(base, tokens["operator"]) as op, \
                client(base, tokens["worker"]) as w:
            job = await app.call_tool("queue.enqueue", {"type": "email", "payload": {"to": "a@b"}})
            assert not job.is_error, job
            before = (await op.call_tool("system.status", {})).structured_content["status"]["version"]

            paused = await op.call_tool("system.pause", {"mode": "drain", "reason": "deploy from an agent"})
            assert not paused.is_error, paused
            assert paused.structured_content["workersPaused"] is True
            assert paused.structured_content["version"] == before + 1

            claim = await w.call_tool("queue.claim", {"workerId": "w1"})
            assert not claim.is_error, claim
            c = claim.structured_content
            assert c["job"] is None
            assert c["system"]["workersPaused"] is True
            assert c["system"]["mode"] == "drain"
            assert c["system"]["reason"] == "deploy from an agent"
            assert c["system"]["version"] == before + 1
            assert c["system"]["pausePollIntervalMs"] == 1500

            resumed = await op.call_tool("system.resume", {"reason": "deploy done"})
            assert not resumed.is_error, resumed
            assert resumed.structured_content["workersPaused"] is False
            assert resumed.structured_content["version"] == before + 2

            claim = (await w.call_tool("queue.claim", {"workerId": "w1"})).structured_content
            assert claim["job"]["id"] == job.structured_content["id"]
            assert claim["system"]["workersPaused"] is False
            hb = await w.call_tool("queue.heartbeat", {
                "jobId": claim["job"]["id"], "workerId": "w1", "leaseToken": claim["job"]["leaseToken"]})
            assert not hb.is_error, hb
            assert hb.structured_content["system"]["version"] == before + 2

            events = (await op.call_tool("events.list", {"limit": 2})).structured_content["events"]
            assert [e["action"] for e in events] == ["resume", "pause"]
            assert all(e["actor"] == "op-agent" for e in events), events
            assert events[1]["reason"] == "deploy from an agent"

    asyncio.run(main())


def test_tool_the_role_lacks_is_refused(lull):
    base, tokens = lull

    async def main():
        async with client(base, tokens["viewer"]) as v:
            before = (await v.call_tool("system.status", {})).structured_content["status"]["version"]
            r = await v.call_tool("system.pause", {"mode": "drain", "reason": "not allowed"})
            assert r.is_error
            assert r.structured_content["error"]["code"] == "forbidden"
            after = (await v.call_tool("system.status", {})).structured_content["status"]
            assert after["version"] == before
            assert after["workersPaused"] is False
        async with client(base, tokens["worker"]) as w:
            r = await w.call_tool("queue.claim", {"workerId": "someone-else"})
            assert r.is_error
            assert r.structured_content["error"]["code"] == "forbidden"

    asyncio.run(main())
