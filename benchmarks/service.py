"""Paid search over HTTP against in-process ``Node.search``, by workers and concurrent clients.

Usage::

    python benchmarks/service.py [--records 1000] [--calls 240] [--workers 1,2,4]
        [--clients 1,2,4,8,16] [--embedder minilm://onnx] [--postgres URL]

Loads ``--records`` rows of ``../shared/data/banking77/train.csv`` (CC BY 4.0; never copied) into
a node on the home's own anvil chain, once on SQLite and once on PostgreSQL (``--postgres``, or
a throwaway cluster started with ``scripts/postgres.sh``), trains a model and funds one consumer
per client. Then, on the same queries (rows of ``test.csv``):

* **in-process**: ``Node.search`` (k=10) with a fresh voucher per call, one after another —
  the baseline, in the same run;
* **HTTP**: ``fairwheel serve --workers W`` (SQLite: 1 worker; PostgreSQL: each of
  ``--workers``), and C concurrent clients, each its own payer with its own keep-alive
  connection, ``--calls`` paid searches in all per setting. Vouchers are signed before the
  clock starts, so the clients' own work is only HTTP.

Prints throughput (calls/s), p50/p99 latency and the ratio of HTTP throughput to in-process
throughput (issue #14 target: >= 0.5, and near-linear gain with workers up to the cores). The
clients run on the same machine as the server and share its cores.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "banking77"
PRICE = 1000


@dataclass
class Setup:
    home: Path
    database_url: str
    pool_id: int
    domain: Any
    payers: list[Any]
    queries: list[str]
    spent: dict[str, int]  # payer -> cumulative amount already used


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stats(ms: list[float]) -> tuple[float, float]:
    ordered = sorted(ms)
    return statistics.median(ordered), ordered[int(0.99 * (len(ordered) - 1))]


def _headers(s: Setup, payer: Any) -> dict[str, str]:
    from fairwheel.domain.typed_data import Voucher, sign_voucher

    s.spent[payer.address] += PRICE
    voucher = Voucher(payer.address, s.pool_id, s.spent[payer.address])
    signature = sign_voucher(voucher, s.domain, payer.key)
    body = {"payer": payer.address, "pool_id": s.pool_id,
            "cumulative_amount": str(voucher.cumulative_amount)}  # fmt: skip
    return {
        "X-Fairwheel-Voucher": json.dumps(body),
        "X-Fairwheel-Signature": "0x" + signature.hex(),
    }


def prepare(
    database_url: str, records: int, clients: int, calls: int, embedder: str
) -> tuple[Setup, float, list[float]]:
    """Load the data into a fresh home on ``database_url``; time the in-process baseline."""
    from fairwheel.config import load_settings
    from fairwheel.domain.typed_data import Voucher, sign_voucher
    from fairwheel.node import Node
    from fairwheel.sim.data import load_csv
    from fairwheel.wallet import ContributorWallet

    train = load_csv(DATA / "train.csv")[:records]
    queries = [e.text for e in load_csv(DATA / "test.csv")[:calls]]
    home = Path(tempfile.mkdtemp(prefix="fairwheel-service-"))
    settings = load_settings(home=home, database_url=database_url or None, embedder_url=embedder)
    node = Node.open(settings)
    try:
        pid = int(node.create_pool("bench", search_price=PRICE, predict_price=3 * PRICE,
                                   operator_fee_bps=1000, builder_share_bps=2000,
                                   labels=sorted({e.label for e in train}))["id"])  # fmt: skip
        wallets = [ContributorWallet(node.testchain.new_account(), node.consent_domain())
                   for _ in range(8)]  # fmt: skip
        now = node.chain.now()
        for start in range(0, len(train), 500):
            batch = train[start : start + 500]
            node.submit(pid, [wallets[(start + i) % 8].submission(pid, e.text, e.label, now=now)
                              for i, e in enumerate(batch)])  # fmt: skip
        node.anchor(pid)
        node.train(pid, node.testchain.new_account().address)
        payers = [node.testchain.new_account() for _ in range(clients + 2)]
        for payer in payers:
            node.testchain.faucet(payer.address, 10**15, 0)
            node.testchain.deposit(pid, 10**15, payer)
        domain = node.voucher_domain()
        setup = Setup(home, node.settings.database_url, pid, domain, payers, queries,
                      {p.address: 0 for p in payers})  # fmt: skip
        baseline = payers[-1]
        node.search(pid, queries[0], 10, *_signed(setup, baseline, Voucher, sign_voucher))
        times = []
        start_all = time.perf_counter()
        for query in queries:
            voucher, sig = _signed(setup, baseline, Voucher, sign_voucher)
            start = time.perf_counter()
            node.search(pid, query, 10, voucher, sig)
            times.append((time.perf_counter() - start) * 1e3)
        wall = time.perf_counter() - start_all
        return setup, len(queries) / wall, times
    finally:
        node.close()


def _signed(s: Setup, payer: Any, voucher_cls: Any, sign: Any) -> tuple[Any, bytes]:
    s.spent[payer.address] += PRICE
    voucher = voucher_cls(payer.address, s.pool_id, s.spent[payer.address])
    return voucher, sign(voucher, s.domain, payer.key)


class Server:
    """``fairwheel serve --workers N`` on the setup's home, in a subprocess."""

    def __init__(self, s: Setup, workers: int, embedder: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRWHEEL_")}
        self.log = open(s.home / f"serve-{workers}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from fairwheel.cli import main; main()", "serve",
             "--home", str(s.home), "--database-url", s.database_url, "--embedder", embedder,
             "--port", str(self.port), "--workers", str(workers), "--rate-limit", "0",
             "--no-jobs", "--log-level", "warning"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        import httpx

        deadline = time.monotonic() + 180
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"serve exited: see {self.log.name}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("serve did not start in 180 s")
            time.sleep(0.3)

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def run_clients(s: Setup, url: str, clients: int, calls: int) -> tuple[float, list[float]]:
    """``calls`` paid searches by ``clients`` concurrent clients; (calls/s, latencies ms)."""
    import httpx

    per = max(1, calls // clients)
    plans = [
        [(s.queries[(c * per + i) % len(s.queries)], _headers(s, s.payers[c])) for i in range(per)]
        for c in range(clients)
    ]  # signed before the clock starts

    def client(plan: list[tuple[str, dict[str, str]]]) -> list[float]:
        out = []
        with httpx.Client(base_url=url, timeout=120) as http:
            for query, headers in plan:
                start = time.perf_counter()
                answer = http.post(f"/v1/pools/{s.pool_id}/search",
                                   json={"query": query, "k": 10}, headers=headers)  # fmt: skip
                out.append((time.perf_counter() - start) * 1e3)
                if answer.status_code != 200:
                    raise SystemExit(f"paid search failed: {answer.status_code} {answer.text}")
        return out

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = [ms for part in pool.map(client, plans) for ms in part]
    return len(latencies) / (time.perf_counter() - start), latencies


def _postgres(url: str | None) -> tuple[str, bool]:
    """A PostgreSQL URL for the benchmark, and whether we started the cluster ourselves."""
    if url:
        return url, False
    out = subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "start"], check=True,
                         capture_output=True, text=True)  # fmt: skip
    return out.stdout.strip().splitlines()[-1], True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=240)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--clients", default="1,2,4,8,16")
    parser.add_argument("--embedder", default="minilm://onnx")
    parser.add_argument("--postgres", default=os.environ.get("FAIRWHEEL_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    clients = [int(c) for c in args.clients.split(",")]

    pg_url, started = _postgres(args.postgres)
    print(f"{args.records} records, {args.calls} paid searches per row, k=10, "
          f"embedder {args.embedder}, {os.cpu_count()} cores (clients share them)")  # fmt: skip
    print(f"{'store':<11}{'workers':>8}{'clients':>8}{'calls/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'vs in-process':>15}")  # fmt: skip
    try:
        for store, url, counts in (("sqlite", "", [1]), ("postgresql", pg_url, workers)):
            setup, base_rate, base_ms = prepare(url, args.records, max(clients), args.calls,
                                                args.embedder)  # fmt: skip
            p50, p99 = _stats(base_ms)
            print(f"{store:<11}{'in-proc':>8}{1:>8}{base_rate:>10.1f}{p50:>9.2f}{p99:>9.2f}"
                  f"{1.0:>14.2f}x")  # fmt: skip
            for n in counts:
                server = Server(setup, n, args.embedder)
                try:
                    run_clients(setup, server.url, 2 * n, 4 * n)  # warm every worker up
                    for c in clients:
                        rate, ms = run_clients(setup, server.url, c, args.calls)
                        p50, p99 = _stats(ms)
                        print(f"{store:<11}{n:>8}{c:>8}{rate:>10.1f}{p50:>9.2f}{p99:>9.2f}"
                              f"{rate / base_rate:>14.2f}x", flush=True)  # fmt: skip
                finally:
                    server.stop()
    finally:
        if started:
            subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop"], check=False)


if __name__ == "__main__":
    main()
