"""How to keep several Twilio requests in flight from one worker process: measured, not guessed.

    flock /tmp/hub-heavy.lock .venv/bin/python benchmarks/inflight.py --messages 2000 --in-flight 16

Sends the same SMS through the sandbox (started here as its own process, so its CPU is not ours)
three ways with the official SDK: one request at a time, a thread pool around the sync client, and
``create_async`` on the SDK's aiohttp client. Prints wall time and this process's CPU time per
request: on a shared 2-core machine the CPU per request is what limits a worker, the wall time what
a real provider's latency (``--latency``, added by the sandbox's timeout fault) turns into.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from twilio.http.async_http_client import AsyncTwilioHttpClient  # noqa: E402
from twilio.rest import Client  # noqa: E402

from channels.clients import _rebase, make_twilio_client  # noqa: E402
from sandbox import SANDBOX_TWILIO_ACCOUNT_SID, SANDBOX_TWILIO_AUTH_TOKEN, SandboxClient  # noqa: E402
from tests.support.live import free_port  # noqa: E402

SENDER = "+815000000001"


class _RebasingAsync(AsyncTwilioHttpClient):
    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        return await super().request(method, _rebase(url, self.base_url), *args, **kwargs)


def _to(i: int) -> str:
    return f"+8190{10000000 + i:08d}"


def measure(name: str, n: int, run: Callable[[], None]) -> dict[str, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"way": name, "requests": n, "wall_s": round(wall, 2), "per_s": round(n / wall, 1),
            "cpu_ms_per_request": round(1000 * cpu / n, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=16)
    args = parser.parse_args()
    port, smtp = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "sandbox", "run", "--http-port", str(port),
                             "--smtp-port", str(smtp)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        sandbox = SandboxClient(base)
        deadline = time.monotonic() + 30
        while True:
            try:
                sandbox.stats()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        client: Client = make_twilio_client(SANDBOX_TWILIO_ACCOUNT_SID, SANDBOX_TWILIO_AUTH_TOKEN, base, 10.0)
        n, k = args.messages, args.in_flight

        def send(i: int) -> str:
            return str(client.messages.create(to=_to(i), from_=SENDER, body="性能測定").sid)

        def sequential() -> None:
            for i in range(n):
                send(i)

        def threads() -> None:
            with ThreadPoolExecutor(k) as pool:
                sids = list(pool.map(send, range(n)))
            assert len(set(sids)) == n, "two requests were given the same answer"

        def with_asyncio() -> None:
            async def go() -> None:
                http = _RebasingAsync(base, timeout=10.0)
                aclient = Client(SANDBOX_TWILIO_ACCOUNT_SID, SANDBOX_TWILIO_AUTH_TOKEN, http_client=http)
                gate = asyncio.Semaphore(k)

                async def one(i: int) -> str:
                    async with gate:
                        m = await aclient.messages.create_async(to=_to(i), from_=SENDER, body="性能測定")
                        return str(m.sid)
                try:
                    sids = await asyncio.gather(*(one(i) for i in range(n)))
                finally:
                    await http.close()
                assert len(set(sids)) == n
            asyncio.run(go())

        send(0)  # warm the connection pool and the SDK's imports
        results = [measure("sequential (sync SDK)", n, sequential),
                   measure(f"thread pool x{k} (sync SDK)", n, threads),
                   measure(f"asyncio x{k} (create_async, aiohttp)", n, with_asyncio)]
        print(json.dumps(results, ensure_ascii=False, indent=2))
    finally:
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    main()
