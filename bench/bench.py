#!/usr/bin/env python3
"""Postern benchmark: the hot paths against the machine's own limit (issue 7).

Run it through `scripts/bench.sh`, which installs wrk, builds the release server and the seeding
program when needed and then runs this file. For every database size N it has the seeding program
(`server/examples/postern-seed.rs`, the product's own store and token module) create a fresh
database with N sessions spread over N/10 accounts and write the tokens the load generator sends,
starts the release server and drives it with wrk on 127.0.0.1. This file knows no table, column or
token format: a migration that changes them changes the seeding program with them, or breaks it.

The push (issue 14) has a section of its own (`run_push`, `--only push`): the load generator
`server/examples/postern-streams.rs` holds --push-streams idle event streams on the server while
its memory, its idle CPU and the poll's and the page's throughput (with and without the streams,
alternating) are measured, then times sessions ended one by one to the `ended` event on their own
streams (on PostgreSQL through a second instance). Its browser part (`run_push_browser`, also
`--only push-browser`) runs end2end/bench/push-browser.spec.ts in Chromium against a release server
that polls once a minute: a session's end to the notice in its browser, and an idle tab's requests.

Every load run is bounded in time. Results: bench/results.md and bench/results.json (or the
--out directory).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WRK_DIR = ROOT / "bench" / "wrk"
# Cargo's target directory: CARGO_TARGET_DIR when set (relative to the workspace, as cargo reads it).
TARGET = ROOT / os.environ.get("CARGO_TARGET_DIR", "target")
SERVER = TARGET / "release" / "server"
SEEDER = TARGET / "release" / "examples" / "postern-seed"
STREAMS = TARGET / "release" / "examples" / "postern-streams"
BARE = TARGET / "release" / "examples" / "bare-hello"
# The benchmark runs a private copy: a build finishing meanwhile cannot swap the binary under a
# run, and nothing that stops processes named "server" stops this one.
SERVER_COPY_NAME = "postern-bench-server"
SEEDER_COPY_NAME = "postern-bench-seed"
STREAMS_COPY_NAME = "postern-bench-streams"
SITE = Path(os.environ["LEPTOS_SITE_ROOT"]) if os.environ.get("LEPTOS_SITE_ROOT") else TARGET / "site"

PASSWORD = "Lighthouse-Quartz-Maple-42"
SESSIONS_PER_ACCOUNT = 10
POLL_TOKENS = 10_000          # the poll rotates over this many sessions, spread over the table
LOGIN_ACCOUNTS = 64
DELETE_ACCOUNTS = 1_000       # victim pools for "ending one session", one actor each
WRK_THREADS = 2
WRK_CONNECTIONS = 64
STORM_CONNECTIONS = 64        # the 64-way login storm
STORM_POLL_FRACTION = 0.10    # the poll load during the storm, as a share of the poll's maximum
SIGNUP_PARALLEL = (4, 16)     # CPU-heavy sign-ups at once (issue 11: four stalled /healthz for over a second)
SIGNUP_LIMIT = 1_000_000      # --signup-limit-per-hour for the benchmark's server (default 20 per address)
PACE_MS = 5                   # think time per connection in paced runs
DISTURBED_CORES = 0.15        # other work on the machine beyond this (average cores) marks a size

MINUTE = 60_000

# The push (issue 14): event streams held open, and the end of a session reaching its stream.
PUSH_STREAMS = 10_000         # idle streams, one per session (--push-streams)
PUSH_TRIALS = 1_000           # revocations timed to their `ended` event
PUSH_IDLE_S = 30              # the idle period CPU is measured over: longer than a heartbeat (25 s)
PUSH_REPEATS = 3              # alternating runs without and with the streams, for each throughput
PUSH_RSS_KB = 20              # target: server memory per idle stream
PUSH_RATE_DROP = 0.10         # target: throughput with the streams open at most this much lower
PUSH_P99_MS = {"sqlite": 50, "postgres": 100}   # target: revocation → `ended` p99
# The push in a real browser (end2end/bench/push-browser.spec.ts, Playwright and Chromium).
END2END = ROOT / "end2end"
BROWSER_TRIALS = 20           # sessions ended, each timed to the notice in its browser (smoke 3)
BROWSER_IDLE_MS = 60_000      # an idle tab's requests are counted over this window (smoke 5 s)
BROWSER_POLL_MS = 60_000      # the server's poll interval: only the push explains a quick notice
BROWSER_NOTICE_P99_MS = 250   # target: a session's end → its browser's notice visible, p99
BROWSER_IDLE_PER_MIN = 1      # target: requests an idle tab with a healthy stream makes a minute


def log(msg: str) -> None:
    print(f"\033[1m==> {msg}\033[0m", flush=True)


def note(msg: str) -> None:
    print(f"    {msg}", flush=True)


# ---- databases -----------------------------------------------------------------------------------
# The seeding program creates and fills them; here they are only made, measured, instrumented and
# dropped. The one piece of schema this file names is the column the instrumentation counts writes
# of (sessions.last_active_at): should a migration rename it, creating the trigger fails loudly.

class SqliteDb:
    name = "sqlite"

    def __init__(self, workdir: Path, label: str):
        self.path = workdir / f"bench-{label}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)
        self.url = f"sqlite://{self.path}"

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.execute("PRAGMA busy_timeout = 30000")
        return con

    def scalar(self, sql: str, *params):
        con = self._connect()
        try:
            row = con.execute(sql, params).fetchone()
            return row[0] if row else None
        finally:
            con.close()

    def execute_script(self, sql: str) -> None:
        con = self._connect()
        try:
            con.executescript(sql)
        finally:
            con.close()

    def instrument(self) -> None:
        # Counts every write of "last active" (the only statement that sets last_active_at after
        # a session's creation is the activity touch).
        self.execute_script("""
            CREATE TABLE IF NOT EXISTS bench_touches (n INTEGER NOT NULL);
            INSERT INTO bench_touches SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM bench_touches);
            CREATE TRIGGER IF NOT EXISTS bench_touch AFTER UPDATE OF last_active_at ON sessions
            BEGIN UPDATE bench_touches SET n = n + 1; END;
        """)

    def size_bytes(self) -> int:
        return sum(Path(str(self.path) + s).stat().st_size for s in ("", "-wal") if Path(str(self.path) + s).exists())

    def drop(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)


class PgDb:
    name = "postgres"

    def __init__(self, workdir: Path, label: str):
        out = subprocess.run([str(ROOT / "scripts" / "pg-test-db.sh")], check=True, capture_output=True, text=True)
        self.url = out.stdout.strip().splitlines()[-1]
        self.dbname = self.url.rsplit("/", 1)[1]

    def _psql(self, *args, input=None, url=None) -> str:
        out = subprocess.run(["psql", url or self.url, "-v", "ON_ERROR_STOP=1", "-qAt", *args],
                             input=input, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr.strip()}")
        return out.stdout

    def scalar(self, sql: str, *params):
        for p in params:  # only ints and simple strings from this file
            sql = sql.replace("?", f"'{p}'" if isinstance(p, str) else str(p), 1)
        out = self._psql("-c", sql).strip()
        if out == "":
            return None
        try:
            return int(out)
        except ValueError:
            return out

    def execute_script(self, sql: str) -> None:
        self._psql("-c", sql)

    def instrument(self) -> None:
        self.execute_script("""
            CREATE TABLE IF NOT EXISTS bench_touches (n BIGINT NOT NULL);
            INSERT INTO bench_touches SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM bench_touches);
            CREATE OR REPLACE FUNCTION bench_count_touch() RETURNS trigger LANGUAGE plpgsql AS
              $$ BEGIN UPDATE bench_touches SET n = n + 1; RETURN NULL; END $$;
            DROP TRIGGER IF EXISTS bench_touch ON sessions;
            CREATE TRIGGER bench_touch AFTER UPDATE OF last_active_at ON sessions
              FOR EACH ROW EXECUTE FUNCTION bench_count_touch();
        """)

    def size_bytes(self) -> int:
        return int(self.scalar("SELECT pg_database_size(current_database())"))

    def drop(self) -> None:
        admin = self.url.rsplit("/", 1)[0] + "/postgres"
        try:
            self._psql("-c", f"DROP DATABASE IF EXISTS {self.dbname}", url=admin)
        except RuntimeError as e:
            note(f"could not drop {self.dbname}: {e}")


# ---- the server ----------------------------------------------------------------------------------

def wait_for_healthz(proc: subprocess.Popen, port: int, name: str, logfile: Path, timeout_s: int) -> None:
    """Until `proc` answers `GET /healthz` with 200; an error if it exits or stays silent."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}; see {logfile}")
        try:
            if request("GET", "/healthz", port=port, timeout=1)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not answer /healthz within {timeout_s} s")


class Server:
    def __init__(self, db_url: str, port: int, logfile: Path, extra_env: dict | None = None):
        self.port = port
        self.origin = f"http://127.0.0.1:{port}"
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": db_url,
            "POSTERN_LISTEN": f"127.0.0.1:{port}",
            "POSTERN_PUBLIC_URL": self.origin,
            "LEPTOS_SITE_ROOT": str(SITE),
            "RUST_LOG": "warn",
            # The login storm and the sign-ups come from many client addresses, through
            # X-Forwarded-For; the sign-ups are many more than a real address makes in an hour.
            "POSTERN_TRUSTED_PROXIES": "127.0.0.1",
            "POSTERN_SIGNUP_LIMIT_PER_HOUR": str(SIGNUP_LIMIT),
        })
        env.update(extra_env or {})
        self.poll_interval_ms = int(env.get("POSTERN_POLL_INTERVAL_MS", "5000"))
        self.log = open(logfile, "ab")
        self.proc = subprocess.Popen([str(logfile.parent / SERVER_COPY_NAME)], env=env, cwd=ROOT, stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        RUNNING.append(self)
        wait_for_healthz(self.proc, port, "server", logfile, 120)

    def check_alive(self) -> None:
        rc = self.proc.poll()
        if rc is not None:
            how = f"killed by signal {-rc}" if rc < 0 else f"exited with {rc}"
            raise RuntimeError(f"the server died during the run ({how}); its log: {self.log.name}")

    def rss_kib(self) -> dict:
        out = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:", "RssFile:", "RssShmem:")):
                    out[line.split(":")[0]] = int(line.split()[1])
        # RssAnon is the heap; the rest of VmRSS is mapped files (the binary, and the SQLite database
        # the reader connections map, counted as shared memory when it lives on a tmpfs), pages the
        # OS page cache owns.
        return {"rss_kib": out.get("VmRSS"), "hwm_kib": out.get("VmHWM"), "anon_kib": out.get("RssAnon"),
                "file_kib": out.get("RssFile"), "shmem_kib": out.get("RssShmem")}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if self in RUNNING:
            RUNNING.remove(self)


class BareHello:
    """The control: a bare axum hello (`server/examples/bare-hello.rs`), idle while the server is
    measured and measured alternately with it."""

    def __init__(self, port: int, logfile: Path):
        self.port = port
        self.log = open(logfile, "ab")
        self.proc = subprocess.Popen([str(BARE), f"127.0.0.1:{port}"], stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        RUNNING.append(self)
        wait_for_healthz(self.proc, port, "bare-hello", logfile, 30)

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"bare-hello died during the run; its log: {self.log.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self in RUNNING:
            RUNNING.remove(self)


RUNNING: list = []
GENERATORS: list["Streams"] = []
RUN_DIRS: list[Path] = []


def stop_all(*_args) -> None:
    for g in list(GENERATORS):
        g.kill()
    for s in list(RUNNING):
        s.stop()


def request(method: str, path: str, port: int, headers: dict | None = None, body: bytes | None = None,
            timeout: float = 10, conn: http.client.HTTPConnection | None = None):
    own = conn is None
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, r.headers, data
    finally:
        if own:
            c.close()


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


# ---- wrk -----------------------------------------------------------------------------------------

def wrk(script: str, path: str, port: int, duration: int, connections: int = WRK_CONNECTIONS,
        threads: int = WRK_THREADS, headers: list[str] | None = None, args: list[str] | None = None,
        pace_ms: int = 0, background: bool = False):
    threads = max(1, min(threads, connections))
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
           "-s", str(WRK_DIR / script)]
    for h in headers or []:
        cmd += ["-H", h]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    if args:
        cmd += ["--", *args]
    env = dict(os.environ)
    env["BENCH_PACE_MS"] = str(pace_ms)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if background:
        return proc
    return wrk_result(proc, connections, threads, pace_ms)


def wrk_result(proc: subprocess.Popen, connections: int, threads: int = WRK_THREADS, pace_ms: int = 0) -> dict:
    out, err = proc.communicate()
    m = re.search(r"^BENCHJSON (\{.*\})$", out, re.M)
    if proc.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err.strip()} {out.strip()[-400:]}")
    raw = json.loads(m.group(1))
    secs = raw["duration_us"] / 1e6
    errors = sum(raw[k] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout"))
    return {
        "rps": round(raw["requests"] / secs, 1),
        "requests": raw["requests"],
        "duration_s": round(secs, 2),
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "p999_ms": raw["p999_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "mean_ms": round(raw["mean_us"] / 1000, 3),
        "errors": errors,
        "error_detail": {k[4:]: raw[k] for k in raw if k.startswith("err_") and raw[k]},
        "connections": connections,
        "threads": threads,
        "pace_ms": pace_ms,
        "pool_exhausted": bool(raw["exhausted"]),
        "bytes_per_response": round(raw["bytes"] / raw["requests"]) if raw["requests"] else 0,
        **({"statuses": raw["statuses"]} if raw.get("statuses") else {}),
    }


def rates(runs: list[dict]) -> str:
    return ", ".join(f"{r['rps']:,.0f}" for r in runs)


def median_run(runs: list[dict]) -> dict:
    """The run with the median rate, with every run's rate beside it."""
    ordered = sorted(runs, key=lambda r: r["rps"])
    out = dict(ordered[(len(ordered) - 1) // 2])
    out["runs_rps"] = [r["rps"] for r in runs]
    return out


def paced_connections(rate: float) -> int:
    # Each connection sends one request, waits for the answer, then waits PACE_MS.
    return max(1, min(1000, round(rate * (PACE_MS / 1000 + 0.0002))))


def wrk_paced(script: str, path: str, port: int, duration: int, rate: float, args=None, calibrate: int = 2) -> dict:
    """A run offering about `rate` requests per second: wrk's delay() gives every connection a
    think time, and a short calibration run corrects the number of connections."""
    conns = paced_connections(rate)
    if calibrate:
        probe = wrk(script, path, port, calibrate, connections=conns, args=args, pace_ms=PACE_MS)
        if probe["rps"] > 0:
            conns = max(1, min(1000, round(conns * rate / probe["rps"])))
    res = wrk(script, path, port, duration, connections=conns, args=args, pace_ms=PACE_MS)
    res["target_rps"] = round(rate)
    return res


# ---- seeding -------------------------------------------------------------------------------------

def seed(workdir: Path, db_url: str, *args: str) -> dict:
    """Runs the seeding program (`server/examples/postern-seed.rs`: the store's own functions, the
    token module's tokens, the server's argon2id parameters); returns the JSON line it prints."""
    cmd = [str(workdir / SEEDER_COPY_NAME), "--database-url", db_url, "--password", PASSWORD, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "RUST_LOG": "warn"})
    if out.returncode != 0:
        raise RuntimeError(f"seeding failed ({' '.join(args)}): {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def victim_pool(workdir: Path, db_url: str, tag: str, accounts: int, per_account: int) -> list[tuple[str, str, str]]:
    """`accounts` new accounts, each with one acting session and `per_account` sessions to end:
    (actor token, victim session id, victim token), interleaved over the accounts."""
    path = workdir / f"pool-{tag}.txt"
    seed(workdir, db_url, "pool", "--tag", tag, "--accounts", str(accounts), "--per-account", str(per_account),
         "--out", str(path))
    return [tuple(line.split(" ")) for line in path.read_text().splitlines() if line]


# ---- measurements --------------------------------------------------------------------------------

def check_poll_tokens(port: int, tokens: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for t in random.Random(7).sample(tokens, min(50, len(tokens))):
        _, _, data = request("GET", "/api/session/status", port, headers={"Cookie": f"postern_session={t}"}, conn=conn)
        if b'"active"' not in data:
            raise RuntimeError(f"seeded token is not active: {data!r}")
    conn.close()


def revocation_trials(port: int, pool, interval_ms: int) -> dict:
    """End a session through the API; from the moment its 204 arrives, poll that session's cookie
    in a tight loop until the poll says ended."""
    api = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    device = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    notice_ms, end_ms, polls_needed, failures = [], [], [], 0
    for actor, victim_id, victim_token in pool:
        t0 = time.perf_counter()
        status, _, _ = request("DELETE", f"/api/v1/sessions/{victim_id}", port,
                               headers={"Authorization": f"Bearer {actor}"}, conn=api)
        t1 = time.perf_counter()
        if status != 204:
            failures += 1
            continue
        polls = 0
        while True:
            polls += 1
            _, _, data = request("GET", "/api/session/status", port,
                                 headers={"Cookie": f"postern_session={victim_token}"}, conn=device)
            if b'"ended"' in data:
                break
            if polls > 10_000:
                failures += 1
                break
        t2 = time.perf_counter()
        end_ms.append((t1 - t0) * 1000)
        notice_ms.append((t2 - t1) * 1000)
        polls_needed.append(polls)
    api.close()
    device.close()

    def pct(xs, p):
        xs = sorted(xs)
        return round(xs[min(len(xs) - 1, max(0, math.ceil(p / 100 * len(xs)) - 1))], 3) if xs else None

    return {
        "trials": len(notice_ms),
        "failures": failures,
        "notice_p50_ms": pct(notice_ms, 50),
        "notice_p99_ms": pct(notice_ms, 99),
        "notice_max_ms": pct(notice_ms, 100),
        "notice_mean_ms": round(statistics.fmean(notice_ms), 3) if notice_ms else None,
        "end_p50_ms": pct(end_ms, 50),
        "end_p99_ms": pct(end_ms, 99),
        "polls_needed_max": max(polls_needed) if polls_needed else None,
        "poll_interval_ms": interval_ms,
        "real_world_worst_ms": round(pct(notice_ms, 99) + interval_ms, 1) if notice_ms else None,
    }


def beside(opts, d: int, rate: float, token_file: Path, script: str, args: list[str], connections: int, label: str):
    """`connections` requests of `script` at once, for as long as it takes; beside them, first the
    poll and then /healthz (the control: no database), each paced at about `rate`, and each also
    measured just before. Returns (poll before, poll during, the load itself, /healthz before,
    /healthz during)."""
    side = max(1, d - 2)
    poll_args = [str(token_file)]
    before = wrk_paced("poll.lua", "/", opts.port, side, rate, args=poll_args, calibrate=opts.calibrate)
    hz_before = wrk_paced("plain.lua", "/healthz", opts.port, side, rate, calibrate=opts.calibrate)
    proc = wrk(script, "/", opts.port, 2 * side + 3, connections=connections, args=args, background=True)
    time.sleep(1)
    during = wrk("poll.lua", "/", opts.port, side, connections=before["connections"], args=poll_args, pace_ms=PACE_MS)
    hz_during = wrk("plain.lua", "/healthz", opts.port, side, connections=hz_before["connections"], pace_ms=PACE_MS)
    load = wrk_result(proc, connections, min(WRK_THREADS, connections))
    during["target_rps"] = before["target_rps"]
    hz_during["target_rps"] = hz_before["target_rps"]
    note(f"poll p99 at {before['rps']:,.0f} req/s: {before['p99_ms']} ms before, "
         f"{during['p99_ms']} ms during the {label} ({during['rps']:,.0f} req/s)")
    note(f"/healthz p99 at {hz_before['rps']:,.0f} req/s: {hz_before['p99_ms']} ms before, "
         f"{hz_during['p99_ms']} ms during the {label} ({hz_during['rps']:,.0f} req/s)")
    return before, during, load, hz_before, hz_during


def login_storm(opts, d: int, rate: float, token_file: Path, email_file: Path):
    """64 concurrent logins, with the poll and /healthz beside them."""
    before, during, storm, hz_before, hz_during = beside(
        opts, d, rate, token_file, "login.lua", [str(email_file), PASSWORD], STORM_CONNECTIONS, "login storm")
    # Every login of the storm has the right password: a 429 is a valid login refused.
    storm["refused_as_throttled"] = storm.get("statuses", {}).get("429", 0)
    storm["ok_per_s"] = round(storm.get("statuses", {}).get("200", 0) / storm["duration_s"], 1)
    note(f"login storm     {storm['ok_per_s']:>9,.1f} logins/s  p50 {storm['p50_ms']} ms  p99 {storm['p99_ms']} ms")
    return before, during, storm, hz_before, hz_during


def signups(opts, d: int, rate: float, token_file: Path, parallel: int, tag: str):
    """`parallel` sign-ups at once with 256-character passwords of punctuation and digits (the
    strength estimate's worst case, issue 11), with the poll and /healthz beside them."""
    before, during, load, hz_before, hz_during = beside(
        opts, d, rate, token_file, "signup.lua", [tag], parallel, f"{parallel} sign-ups")
    st = load.get("statuses", {})
    load["created"] = st.get("created", 0)
    load["created_per_s"] = round(load["created"] / load["duration_s"], 1)
    # Anything but a new account is a sign-up that did not run in full (refused password, limit).
    load["not_created"] = {k: v for k, v in st.items() if k != "created"}
    note(f"{parallel} sign-ups      {load['created_per_s']:>9,.1f} accounts/s  p50 {load['p50_ms']} ms  "
         f"p99 {load['p99_ms']} ms" + (f"  other answers: {load['not_created']}" if load["not_created"] else ""))
    return before, during, load, hz_before, hz_during


def cpu_snapshot(server_pid: int, pg_db: str | None = None) -> dict:
    """CPU time (clock ticks) of the whole machine, of the server, of PostgreSQL's processes, and
    of this script and the wrk runs it has waited for: whatever is left is other work on the machine.
    PostgreSQL counts as part of the benchmark only when it is the backend under test."""
    def ticks(pid: str, with_children: bool = False) -> int:
        try:
            f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            return 0
        t = int(f[11]) + int(f[12])
        return t + int(f[13]) + int(f[14]) if with_children else t
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    pg = 0
    for pid in (os.listdir("/proc") if pg_db else []):
        if pid.isdigit():
            try:
                if open(f"/proc/{pid}/comm").read().strip() != "postgres":
                    continue
                title = open(f"/proc/{pid}/cmdline").read()
            except OSError:
                continue
            # Backends of the benchmark's database, and the cluster's own background processes;
            # not other databases' backends (other work).
            if pg_db in title or "127.0.0.1(" not in title and "[local]" not in title:
                pg += ticks(pid)
    hz = os.sysconf("SC_CLK_TCK")
    import resource
    mine = sum(getattr(resource.getrusage(w), a) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for a in ("ru_utime", "ru_stime"))
    return {"t": time.time(), "busy": sum(v) - v[3] - v[4], "server": ticks(str(server_pid)), "pg": pg,
            "mine": mine * hz, "hz": hz}


def other_cpu(a: dict, b: dict) -> float:
    """Average cores used by anything but the server, PostgreSQL and the benchmark between a and b."""
    other = (b["busy"] - a["busy"]) - (b["server"] - a["server"]) - (b["pg"] - a["pg"]) - (b["mine"] - a["mine"])
    return round(max(0.0, other / a["hz"] / (b["t"] - a["t"])), 3)


def touches(db) -> int:
    return int(db.scalar("SELECT n FROM bench_touches"))


WRITE_PATHS = ["end_session", "create_session", "touch", "password_change", "throttle_charge", "throttle_refund",
               "security_event"]


def scrape_write_latencies(metrics_port: int) -> dict:
    """`postern_db_write_seconds` from the server's /metrics: per write path, its quantiles (the
    exporter keeps them over the last minute) and how many writes it counted."""
    _, _, text = request("GET", "/metrics", metrics_port)
    out: dict = {}
    for line in text.decode().splitlines():
        m = re.match(r'postern_db_write_seconds(_count)?\{write="([a-z_]+)"(?:,quantile="([0-9.]+)")?\} (\S+)$', line)
        if not m:
            continue
        count, path, q, value = m.groups()
        entry = out.setdefault(path, {})
        if count:
            entry["count"] = int(float(value))
        elif q is not None:
            entry[f"q{q}"] = round(float(value) * 1000, 3)
    return out


def password_changes(port: int, pool, parallel: int) -> dict:
    """Each session of `pool` changes its account's password (the right current one), `parallel`
    at once, as the form without JavaScript posts it: the write that replaces the hash and ends the
    account's other sessions in one transaction (after two argon2id hashes)."""
    import concurrent.futures
    import urllib.parse
    new = "Bench-Changed-Quartz-Maple-42"
    body = urllib.parse.urlencode({"current_password": PASSWORD, "new_password": new,
                                   "repeat_new_password": new}).encode()

    def one(item):
        token = item[2]
        status, _, _ = request("POST", "/api/fn/change_password", port, body=body, timeout=60, headers={
            "Cookie": f"postern_session={token}", "Content-Type": "application/x-www-form-urlencoded",
            "Sec-Fetch-Site": "same-origin"})
        return status

    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(parallel) as ex:
        statuses = list(ex.map(one, pool))
    done = sum(1 for st in statuses if st < 400)
    return {"asked": len(statuses), "done": done, "seconds": round(time.time() - t0, 1),
            "refused": {str(st): statuses.count(st) for st in set(statuses) if st >= 400}}


def page_loads_of_stale_sessions(port: int, tokens: list[str], parallel: int) -> int:
    """One Manage Sessions page for each of `tokens`, `parallel` at once: sessions whose "last
    active" is minutes old, so each first load writes it (a touch)."""
    import concurrent.futures

    def one(token):
        return request("GET", "/settings/sessions", port, headers={"Cookie": f"postern_session={token}"})[0]

    with concurrent.futures.ThreadPoolExecutor(parallel) as ex:
        return sum(1 for st in ex.map(one, tokens) if st == 200)


def run_write_paths(opts, d: int, db, workdir: Path, logfile: Path, token_file: Path, email_file: Path, n: int) -> dict:
    """Each write path under load, on a server with metrics on (so its request timing does not
    weigh on the other measurements), and the store's own time for each write from
    `postern_db_write_seconds`: from asking for the write turn to the commit, waiting included."""
    metrics_port = opts.port + 9
    server = Server(db.url, opts.port, logfile, {"POSTERN_METRICS_LISTEN": f"127.0.0.1:{metrics_port}"})
    try:
        time.sleep(2)
        out: dict = {}
        pool = victim_pool(workdir, db.url, f"wp{n}", DELETE_ACCOUNTS, max(10, math.ceil(opts.end_pool / DELETE_ACCOUNTS)))
        pool_file = workdir / "write-end-pool.txt"
        pool_file.write_text("".join(f"{a} {v}\n" for a, v, _ in pool))
        out["end_session"] = wrk("end_session.lua", "/", opts.port, d, args=[str(pool_file), str(WRK_THREADS)])
        out["logins"] = wrk("login.lua", "/", opts.port, d, connections=16, args=[str(email_file), PASSWORD])
        stale = token_file.read_text().split()[: 20 if opts.smoke else 50 if opts.quick else 400]
        out["touch_pages"] = page_loads_of_stale_sessions(opts.port, stale, 8)
        changers = victim_pool(workdir, db.url, f"pw{n}", 4 if opts.smoke else 12 if opts.quick else 40, 1)
        out["password_changes"] = password_changes(opts.port, changers, 4)
        out["latency"] = scrape_write_latencies(metrics_port)
        note("writes (store, p50 / p99 / max ms): " + "; ".join(
            f"{k} {v.get('q0.5')} / {v.get('q0.99')} / {v.get('q1')} ({v.get('count', 0)})"
            for k, v in sorted(out["latency"].items()) if k in WRITE_PATHS))
        return out
    finally:
        server.stop()


def run_size(backend: str, n: int, opts, workdir: Path) -> dict:
    d = opts.duration
    log(f"{backend}: N = {n:,} sessions")
    db = (PgDb if backend == "postgres" else SqliteDb)(workdir, f"{n}")
    logfile = workdir / f"server-{backend}-{n}.log"
    result: dict = {"sessions": n, "accounts": math.ceil(n / SESSIONS_PER_ACCOUNT)}
    try:
        # 1. A fresh database, migrated and seeded by the seeding program (the product's store).
        t0 = time.time()
        seeded = seed(workdir, db.url, "base", "--sessions", str(n), "--poll-sample", str(POLL_TOKENS),
                      "--login-accounts", str(LOGIN_ACCOUNTS), "--out", str(workdir))
        db.instrument()
        result["seed_s"] = round(time.time() - t0, 1)
        result["seeded"] = seeded
        result["db_bytes"] = db.size_bytes()
        note(f"seeded in {result['seed_s']} s, database {result['db_bytes'] / 1e6:.1f} MB")

        token_file = workdir / "poll-tokens.txt"
        tokens = token_file.read_text().split()
        email_file = workdir / "login-emails.txt"
        # Account 0's sessions: the first loads the page in the measurement, the second checks it
        # beforehand (each request writes only its own session's "last active").
        page_token, check_token = (workdir / "page-tokens.txt").read_text().split()[:2]

        # 2. The server with N sessions stored.
        server = Server(db.url, opts.port, logfile)
        time.sleep(2)  # the purge job runs once at start-up
        result["rss_idle"] = server.rss_kib()
        note(f"RSS idle {result['rss_idle']['rss_kib'] / 1024:.1f} MiB")
        check_poll_tokens(opts.port, tokens)
        status, _, page = request("GET", "/settings/sessions", opts.port, headers={"Cookie": f"postern_session={check_token}"})
        listed = page.count(b'class="session-row') or len(re.findall(rb"<tr[ >]", page)) - 1
        if status != 200 or b"Manage Sessions" not in page:
            raise RuntimeError(f"Manage Sessions page failed: {status}")
        result["page_bytes"] = len(page)

        pg_db = getattr(db, "dbname", None)
        cpu_start = cpu_snapshot(server.proc.pid, pg_db)
        # Warm-up (not reported): caches, connection pools.
        wrk("poll.lua", "/", opts.port, opts.warmup, args=[str(token_file)])

        m = {}
        # The control (a bare axum hello), the limit and the poll, alternately, `repeats` times
        # each; the run with the median rate is reported, with the spread. This machine's speed
        # drifts by ±20% within minutes.
        bare = BareHello(opts.port + 7, workdir / "bare-hello.log")
        wrk("plain.lua", "/healthz", bare.port, opts.warmup)
        bare_runs, hz_runs, poll_runs = [], [], []
        before = touches(db)
        for _ in range(opts.repeats):
            bare_runs.append(wrk("plain.lua", "/healthz", bare.port, d))
            hz_runs.append(wrk("plain.lua", "/healthz", opts.port, d))
            poll_runs.append(wrk("poll.lua", "/", opts.port, d, args=[str(token_file)]))
        bare.stop()
        m["bare_axum"], m["healthz"], m["poll"] = median_run(bare_runs), median_run(hz_runs), median_run(poll_runs)
        for k, runs in (("healthz", hz_runs), ("poll", poll_runs)):
            m[k]["ratios_to_bare"] = [round(r["rps"] / b["rps"], 4) for b, r in zip(bare_runs, runs)]
            m[k]["ratio_to_bare"] = round(statistics.median(m[k]["ratios_to_bare"]), 4)
        note(f"bare axum       {m['bare_axum']['rps']:>9,.0f} req/s  p99 {m['bare_axum']['p99_ms']} ms  "
             f"(runs: {rates(bare_runs)})")
        m["poll"]["last_active_writes"] = touches(db) - before
        m["poll"]["requests_all_runs"] = sum(r["requests"] for r in poll_runs)
        m["poll"]["ratios_to_healthz"] = [round(p_["rps"] / h_["rps"], 4) for h_, p_ in zip(hz_runs, poll_runs)]
        note(f"/healthz        {m['healthz']['rps']:>9,.0f} req/s  p99 {m['healthz']['p99_ms']} ms  "
             f"(runs: {rates(hz_runs)})")
        note(f"poll            {m['poll']['rps']:>9,.0f} req/s  p99 {m['poll']['p99_ms']} ms  "
             f"(runs: {rates(poll_runs)}; {m['poll']['last_active_writes']} last-active writes)")

        half = m["poll"]["rps"] / 2
        m["poll_half_load"] = wrk_paced("poll.lua", "/", opts.port, d, half, args=[str(token_file)], calibrate=opts.calibrate)
        note(f"poll @ half     {m['poll_half_load']['rps']:>9,.0f} req/s  p50 {m['poll_half_load']['p50_ms']} ms  "
             f"p99 {m['poll_half_load']['p99_ms']} ms")
        # The floor of that tail on this machine: /healthz (no database) offered the same load.
        m["healthz_half_load"] = wrk_paced("plain.lua", "/healthz", opts.port, d, m["poll_half_load"]["rps"],
                                           calibrate=opts.calibrate)
        note(f"/healthz alike  {m['healthz_half_load']['rps']:>9,.0f} req/s  p50 {m['healthz_half_load']['p50_ms']} ms  "
             f"p99 {m['healthz_half_load']['p99_ms']} ms")

        # The worst case for "at most one write per minute": 64 connections load pages of one
        # session whose "last active" is minutes old (seeded so; nothing has used it since), all at
        # once. One write is expected.
        page_touches_before = touches(db)
        page_idle_ms = int(time.time() * 1000) - (seeded["seeded_at_ms"] - 5 * MINUTE)
        m["sessions_page"] = wrk("plain.lua", "/settings/sessions", opts.port, d,
                                 headers=[f"Cookie: postern_session={page_token}"])
        m["sessions_page"]["last_active_writes"] = touches(db) - page_touches_before
        m["sessions_page"]["sessions_listed"] = listed
        m["sessions_page"]["idle_minutes_before"] = round(page_idle_ms / MINUTE, 1)
        note(f"sessions page   {m['sessions_page']['rps']:>9,.0f} req/s  p99 {m['sessions_page']['p99_ms']} ms  "
             f"({m['sessions_page']['last_active_writes']} last-active writes)")

        # Ending sessions: a fresh pool, each session ended once.
        per_account = max(10, math.ceil(opts.end_pool / DELETE_ACCOUNTS))
        pool = victim_pool(workdir, db.url, f"del{n}", DELETE_ACCOUNTS, per_account)
        pool_file = workdir / "end-pool.txt"
        pool_file.write_text("".join(f"{a} {v}\n" for a, v, _ in pool))
        m["end_session"] = wrk("end_session.lua", "/", opts.port, d, args=[str(pool_file), str(WRK_THREADS)])
        m["end_session"]["pool"] = len(pool)
        note(f"end session     {m['end_session']['rps']:>9,.0f} req/s  p99 {m['end_session']['p99_ms']} ms"
             + ("  (pool exhausted: a lower bound)" if m["end_session"]["pool_exhausted"] else ""))

        # Revocation to notice.
        rpool = victim_pool(workdir, db.url, f"rev{n}", 1, opts.trials)
        m["revocation"] = revocation_trials(opts.port, rpool, server.poll_interval_ms)
        note(f"revocation      notice p50 {m['revocation']['notice_p50_ms']} ms  p99 {m['revocation']['notice_p99_ms']} ms "
             f"over {m['revocation']['trials']} trials (+ up to one poll interval, {server.poll_interval_ms} ms)")

        # The login storm, and the poll beside it (same offered load with and without).
        result["rss_before_storm"] = server.rss_kib()
        storm_rate = max(50.0, m["poll"]["rps"] * STORM_POLL_FRACTION)
        (m["poll_before_storm"], m["poll_during_storm"], m["login_storm"], m["healthz_before_storm"],
         m["healthz_during_storm"]) = login_storm(opts, d, storm_rate, token_file, email_file)
        result["rss_after"] = server.rss_kib()

        # CPU-heavy sign-ups (issue 11): the poll and /healthz beside them, paced as beside the
        # storm. At the size the targets are for; the database's size plays no part in them.
        if n == opts.target_size:
            for c in SIGNUP_PARALLEL:
                (m[f"poll_before_signups{c}"], m[f"poll_during_signups{c}"], m[f"signups{c}"],
                 m[f"healthz_before_signups{c}"], m[f"healthz_during_signups{c}"]) = signups(
                    opts, d, storm_rate, token_file, c, f"su{c}")
        result["other_cpu_cores"] = other_cpu(cpu_start, cpu_snapshot(server.proc.pid, pg_db))
        if result["other_cpu_cores"] > DISTURBED_CORES:
            note(f"WARNING: other work on the machine used {result['other_cpu_cores']:.2f} cores on average "
                 f"during these measurements: they are disturbed")
        note(f"RSS after load {result['rss_after']['rss_kib'] / 1024:.1f} MiB (peak {result['rss_after']['hwm_kib'] / 1024:.1f} MiB)")
        for k, v in m.items():
            if "rps" in v and k not in ("healthz", "bare_axum") and m["healthz"]["rps"]:
                v["ratio_to_healthz"] = round(v["rps"] / m["healthz"]["rps"], 4)
        result["measurements"] = m
        server.stop()

        # The same storm with every core hashing (the default before b22eaa0, which keeps one
        # core free), at the size the targets are for: what the default buys, and what it costs.
        cores = os.cpu_count() or 1
        if opts.storm_variant and cores >= 2 and n == opts.target_size:
            conc = cores
            server = Server(db.url, opts.port, logfile, {"POSTERN_HASH_CONCURRENCY": str(conc)})
            time.sleep(2)
            note(f"again with --hash-concurrency {conc} (every core hashing)")
            before, during, storm, hz_before, hz_during = login_storm(opts, d, storm_rate, token_file, email_file)
            result["storm_hash_concurrency"] = {"hash_concurrency": conc, "poll_before_storm": before,
                                                "poll_during_storm": during, "login_storm": storm,
                                                "healthz_before_storm": hz_before, "healthz_during_storm": hz_during}
            server.stop()
        # Each write path's own time (issue 16), on a server of its own with metrics on.
        if n == opts.target_size:
            result["write_paths"] = run_write_paths(opts, d, db, workdir, logfile, token_file, email_file, n)
    except Exception:
        for s_ in RUNNING:
            s_.check_alive()
        raise
    finally:
        stop_all()
        if not opts.keep:
            db.drop()
    return result


# ---- the push -------------------------------------------------------------------------------------
# Event streams (issue 14): what holding them costs the server, and how fast the end of a session
# reaches its stream. The streams are held by the load generator (`server/examples/postern-streams.rs`),
# one process with one plain HTTP/1.1 connection per stream.

class Streams:
    """The load generator under `--control`: opens its streams at start (the JSON line `opened`),
    then answers `status` and `trials` on stdin, and closes everything at the end of stdin."""

    def __init__(self, workdir: Path, port: int, token_file: Path, count: int, pool_file: Path | None = None,
                 trials: int = 0, end_port: int | None = None):
        cmd = [str(workdir / STREAMS_COPY_NAME), "--addr", f"127.0.0.1:{port}", "--tokens", str(token_file),
               "--count", str(count), "--control"]
        if pool_file:
            cmd += ["--pool", str(pool_file), "--trials", str(trials)]
        if end_port:
            cmd += ["--end-addr", f"127.0.0.1:{end_port}"]
        self.logfile = workdir / "streams.log"
        self.log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     start_new_session=True)
        GENERATORS.append(self)
        self.opened = self._read("opened")

    def _read(self, phase: str) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the stream generator exited ({self.proc.wait()}); its log: {self.logfile}")
        v = json.loads(line)
        if v.get("phase") != phase:
            raise RuntimeError(f"the stream generator said {v}, not {phase}")
        return v

    def ask(self, command: str, phase: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read(phase)

    def close(self) -> dict:
        self.proc.stdin.close()
        last = self._read("closed")
        self.proc.wait(timeout=60)
        self.log.close()
        GENERATORS.remove(self)
        return last

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self in GENERATORS:
            GENERATORS.remove(self)


def server_ticks(pid: int) -> int:
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def run_push(backend: str, opts, workdir: Path) -> dict:
    """N idle streams on one server: its memory per stream, its CPU while they idle, the poll's and
    the Manage Sessions page's throughput with and without them (alternating runs); then, with
    them open, sessions ended one at a time, each timed to the `ended` event on its own stream. On
    PostgreSQL the ends go to a second instance on the same database."""
    n, trials, d = opts.push_streams, opts.push_trials, opts.duration
    log(f"{backend}: push, {n:,} idle event streams")
    t_start = time.time()
    db = (PgDb if backend == "postgres" else SqliteDb)(workdir, "push")
    pdir = workdir / "push"
    logfile = workdir / f"server-{backend}-push.log"
    out: dict = {"meta": {"started": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                          "commit": git_commit(), "command": opts.command, "loadavg_before": loadavg(),
                          "duration_s": d, "repeats": opts.push_repeats, "idle_s": opts.push_idle},
                 "streams": n}
    try:
        # N sessions besides account 0's ten: with --poll-sample N the poll's token file holds them all.
        out["seeded"] = seed(workdir, db.url, "base", "--sessions", str(n + SESSIONS_PER_ACCOUNT), "--poll-sample", str(n),
                             "--login-accounts", "0", "--out", str(pdir))
        token_file = pdir / "poll-tokens.txt"
        tokens = token_file.read_text().split()
        if len(tokens) < n:
            raise RuntimeError(f"the seeding program wrote {len(tokens)} tokens, not {n}")
        page_token = (pdir / "page-tokens.txt").read_text().split()[0]
        # One account per victim (each with its actor): an end wakes only the victim's stream.
        pool = victim_pool(workdir, db.url, "push", trials, 1)
        pool_file = pdir / "victims.txt"
        pool_file.write_text("".join(" ".join(p) + "\n" for p in pool))

        server = Server(db.url, opts.port, logfile)
        time.sleep(2)  # the purge job runs once at start-up
        check_poll_tokens(opts.port, tokens)
        pg_db = getattr(db, "dbname", None)
        wrk("poll.lua", "/", opts.port, opts.warmup, args=[str(token_file)])

        # Memory and idle CPU first, before any page load: 64 pages rendered at once leave the heap
        # much larger, and streams opened after that would reuse those freed blocks unseen.
        out["rss_before"] = server.rss_kib()
        gen = Streams(workdir, opts.port, token_file, n)
        o = gen.opened
        note(f"{o['open']:,} streams open ({o['failed']} failed) in {o['all_open_s']} s; first event "
             f"p50 {fmt_ms(o['first_event_p50_ms'])} / p99 {fmt_ms(o['first_event_p99_ms'])} ms")
        if o["failed"]:
            note(f"stream failures: {o['failure_examples']}")
        out["rounds"] = [{"opened": o}]
        time.sleep(1)
        out["rss_open"] = server.rss_kib()
        # Idle: nothing but the streams (and their heartbeats) on the server.
        a, t0 = cpu_snapshot(server.proc.pid, pg_db), time.time()
        st0 = gen.ask("status", "status")
        time.sleep(opts.push_idle)
        st1 = gen.ask("status", "status")
        b = cpu_snapshot(server.proc.pid, pg_db)
        secs = time.time() - t0
        out["idle"] = {
            "seconds": round(secs, 1),
            "server_cpu_pct": round(100 * (b["server"] - a["server"]) / a["hz"] / secs, 2),
            "pg_cpu_pct": round(100 * (b["pg"] - a["pg"]) / a["hz"] / secs, 2) if pg_db else None,
            "other_cpu_cores": other_cpu(a, b),
            "heartbeats": st1["heartbeats"] - st0["heartbeats"],
            "open": st1["open"], "lost": st1["lost"],
        }
        out["rss_idle_end"] = server.rss_kib()
        out["rounds"][0]["closed"] = gen.close()
        delta = out["rss_open"]["rss_kib"] - out["rss_before"]["rss_kib"]
        anon = (out["rss_open"]["anon_kib"] or 0) - (out["rss_before"]["anon_kib"] or 0)
        out["rss_per_stream_kb"] = round(delta * 1.024 / max(1, o["open"]), 2)
        out["anon_per_stream_kb"] = round(anon * 1.024 / max(1, o["open"]), 2)
        note(f"server RSS {out['rss_before']['rss_kib'] / 1024:.1f} → {out['rss_open']['rss_kib'] / 1024:.1f} MiB: "
             f"{out['rss_per_stream_kb']} KB per stream; CPU over {secs:.0f} s idle "
             f"{out['idle']['server_cpu_pct']}% of a core ({out['idle']['heartbeats']:,} heartbeats)")

        wrk("plain.lua", "/settings/sessions", opts.port, opts.warmup, headers=[f"Cookie: postern_session={page_token}"])

        def throughput(into: dict) -> None:
            # Each run records what other work on the machine took meanwhile: the runs compared
            # are minutes apart, and a disturbance in some of them reads as the streams' effect.
            a_ = cpu_snapshot(server.proc.pid, pg_db)
            into.setdefault("poll", []).append(wrk("poll.lua", "/", opts.port, d, args=[str(token_file)]))
            b_ = cpu_snapshot(server.proc.pid, pg_db)
            into["poll"][-1]["other_cpu_cores"] = other_cpu(a_, b_)
            into.setdefault("page", []).append(wrk("plain.lua", "/settings/sessions", opts.port, d,
                                                   headers=[f"Cookie: postern_session={page_token}"]))
            into["page"][-1]["other_cpu_cores"] = other_cpu(b_, cpu_snapshot(server.proc.pid, pg_db))

        without, with_ = {}, {}
        second = None
        for i in range(opts.push_repeats):
            server.check_alive()
            throughput(without)
            last = i == opts.push_repeats - 1
            if last and backend == "postgres":
                # Instance B, on the same database: the ends go there, the streams stay on A.
                second = Server(db.url, opts.port2, workdir / f"server-{backend}-push-b.log")
            gen = Streams(workdir, opts.port, token_file, n, pool_file if last else None, trials,
                          opts.port2 if second else None)
            o = gen.opened
            note(f"round {i + 1}: {o['open']:,} streams open ({o['failed']} failed) in {o['all_open_s']} s")
            if o["failed"]:
                note(f"stream failures: {o['failure_examples']}")
            out["rounds"].append({"opened": o})
            throughput(with_)
            if last:
                r = gen.ask("trials", "trials")
                r["instances"] = 2 if second else 1
                out["revocation"] = r
                note(f"revocation → ended ({'two instances' if second else 'one instance'}): p50 {fmt_ms(r['p50_ms'])} / "
                     f"p99 {fmt_ms(r['p99_ms'])} / max {fmt_ms(r['max_ms'])} ms over {r['trials']} trials, "
                     f"{r['failures']} failed" + (f" {r['failure_examples']}" if r["failures"] else ""))
            out["rounds"][-1]["closed"] = gen.close()
            server.check_alive()
        for k in ("poll", "page"):
            w, s_ = median_run(without[k]), median_run(with_[k])
            out[f"{k}_without"], out[f"{k}_with"] = w, s_
            out[f"{k}_ratio"] = round(s_["rps"] / w["rps"], 4) if w["rps"] else None
            out[f"{k}_other_cpu_cores"] = [r_["other_cpu_cores"] for r_ in without[k] + with_[k]]
            note(f"{k:<5} without {w['rps']:>9,.0f} req/s ({rates(without[k])}), with {s_['rps']:>9,.0f} req/s "
                 f"({rates(with_[k])}): ×{out[f'{k}_ratio']:.3f}")
            if max(out[f"{k}_other_cpu_cores"]) > DISTURBED_CORES:
                note(f"WARNING: other work on the machine took up to {max(out[f'{k}_other_cpu_cores']):.2f} cores during "
                     f"these {k} runs: the comparison is disturbed")
        out["rss_after"] = server.rss_kib()
        out["stream_failures"] = sum(r["opened"]["failed"] for r in out["rounds"])
        out["streams_lost"] = sum(r["closed"]["lost"] for r in out["rounds"])
    except Exception:
        for s_ in RUNNING:
            s_.check_alive()
        raise
    finally:
        stop_all()
        if not opts.keep:
            db.drop()
    out["meta"]["elapsed_s"] = round(time.time() - t_start)
    out["meta"]["loadavg_after"] = loadavg()
    return out


def browser_missing(opts) -> str | None:
    """Why the browser part cannot run here, or None."""
    if opts.no_site:
        return "--no-site"
    if not (SITE / "pkg").is_dir():
        return f"no site build in {SITE} (`cargo leptos build --release`)"
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not os.access(chromium, os.X_OK):
        return f"no Chromium at {chromium} (set CHROMIUM_PATH)"
    if not shutil.which("npx") or not (END2END / "node_modules" / "@playwright" / "test").is_dir():
        return "no Playwright in end2end/node_modules (`npm ci` in end2end/)"
    return None


def run_push_browser(opts, workdir: Path) -> dict:
    """end2end/bench/push-browser.spec.ts in Chromium, against a release server on a fresh SQLite
    database that polls every 60 s (so that only the push explains a notice within the second):
    sessions ended through the mail app's API, each timed from its 204 to the notice painted in
    its browser; then how many requests an idle tab with a healthy stream makes."""
    trials = opts.browser_trials
    idle_ms = opts.browser_idle_ms
    log(f"sqlite: push in the browser (Chromium), {trials} trials, {idle_ms / 1000:.0f} s idle")
    wait_for_site()
    t_start = time.time()
    db = SqliteDb(workdir, "push-browser")
    logfile = workdir / "server-sqlite-push-browser.log"
    out_file = workdir / "push-browser.json"
    out_file.unlink(missing_ok=True)
    meta = {"started": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "commit": git_commit(),
            "command": opts.command, "loadavg_before": loadavg(), "poll_interval_ms": BROWSER_POLL_MS,
            "site_built": dt.datetime.fromtimestamp((SITE / "pkg").stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "chromium": subprocess.run([os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"), "--version"],
                                       capture_output=True, text=True).stdout.strip() or "?"}
    server = Server(db.url, opts.port, logfile, {"POSTERN_POLL_INTERVAL_MS": str(BROWSER_POLL_MS)})
    try:
        env = dict(os.environ)
        env.update({"POSTERN_BENCH_URL": server.origin, "POSTERN_BENCH_OUT": str(out_file),
                    "POSTERN_BENCH_TRIALS": str(trials), "POSTERN_BENCH_IDLE_MS": str(idle_ms)})
        env.setdefault("CHROMIUM_PATH", "/usr/bin/chromium")
        pw_log = workdir / "playwright-push-browser.log"
        with open(pw_log, "wb") as f:
            # Bounded: a login and an end per trial take a second or two; the idle window on top.
            proc = subprocess.run(["npx", "playwright", "test", "-c", "bench.config.ts"], cwd=END2END, env=env,
                                  stdout=f, stderr=subprocess.STDOUT, timeout=180 + 30 * trials + idle_ms / 1000)
        server.check_alive()
        if proc.returncode != 0 or not out_file.exists():
            tail = pw_log.read_text(errors="replace").strip().splitlines()[-40:]
            raise RuntimeError(f"the browser benchmark failed (exit {proc.returncode}); its log, {pw_log}:\n"
                               + "\n".join(tail))
        r = json.loads(out_file.read_text())
    finally:
        server.stop()
        if not opts.keep:
            db.drop()
    meta["elapsed_s"] = round(time.time() - t_start)
    meta["loadavg_after"] = loadavg()
    r["meta"] = meta
    note(f"notice after the 204: p50 {fmt_ms(r['notice_p50_ms'])} / p99 {fmt_ms(r['notice_p99_ms'])} / max "
         f"{fmt_ms(r['notice_max_ms'])} ms over {r['trials']} trials ({r['trials_with_poll']} with a poll meanwhile); "
         f"idle tab: {r['idle_requests']} requests in {r['idle_window_ms'] / 1000:.0f} s "
         f"({r['idle_requests_per_minute']} a minute)")
    return r


# ---- the bundle ----------------------------------------------------------------------------------

def compressed_sizes(path: Path) -> dict:
    raw = path.read_bytes()
    out = {"raw": len(raw), "gzip": len(gzip.compress(raw, compresslevel=9, mtime=0)), "brotli": None}
    try:
        import brotli  # type: ignore
        out["brotli"] = len(brotli.compress(raw, quality=11))
    except ImportError:
        if shutil.which("brotli"):
            out["brotli"] = len(subprocess.run(["brotli", "-c", "-q", "11", str(path)], capture_output=True, check=True).stdout)
    return out


def wait_for_site(limit_s: int = 900) -> None:
    """A build in progress (cargo leptos empties target/site/pkg, then writes it) is waited for:
    the .wasm, .js and .css must be there and unchanged for 20 seconds."""
    deadline = time.time() + limit_s
    said = False
    while True:
        files = [p for p in (SITE / "pkg").iterdir()] if (SITE / "pkg").is_dir() else []
        suffixes = {p.suffix for p in files}
        newest = max((p.stat().st_mtime for p in files), default=0)
        if {".wasm", ".js", ".css"} <= suffixes and time.time() - newest > 20:
            return
        if time.time() > deadline:
            raise RuntimeError("target/site/pkg has no complete build (.wasm, .js, .css)")
        if not said:
            note("target/site/pkg is being written (a build in progress?): waiting")
            said = True
        time.sleep(5)


def bundle(port: int, workdir: Path) -> dict:
    wait_for_site()
    files = {}
    for p in sorted((SITE / "pkg").iterdir()):
        if p.suffix in (".wasm", ".js", ".css"):
            files[p.name] = compressed_sizes(p)
    # What the login page loads: the /pkg/ files its HTML names.
    db = SqliteDb(workdir, "bundle")
    server = Server(db.url, port, workdir / "server-bundle.log")
    try:
        _, _, html = request("GET", "/login", port)
        wanted = sorted(set(re.findall(rb"/pkg/([A-Za-z0-9_.\-]+\.(?:wasm|js|css))", html)))
        probe = next((n for n in files if n.endswith(".wasm")), next(iter(files)))
        _, h, _ = request("GET", "/pkg/" + probe, port, headers={"Accept-Encoding": "gzip, br"})
        served_encoding = h.get("Content-Encoding")
    finally:
        server.stop()
        db.drop()
    login = [w.decode() for w in wanted if w.decode() in files]
    total = lambda names, k: sum(files[n][k] or 0 for n in names) if all(files[n][k] is not None for n in names) else None
    wasm = [n for n in files if n.endswith(".wasm")]
    return {
        "files": files,
        "login_page_loads": login,
        "login_wasm": {k: total([n for n in login if n.endswith(".wasm")], k) for k in ("raw", "gzip", "brotli")},
        "login_total": {k: total(login, k) for k in ("raw", "gzip", "brotli")},
        "all_routes_wasm": {k: total(wasm, k) for k in ("raw", "gzip", "brotli")},
        "all_files": {k: total(list(files), k) for k in ("raw", "gzip", "brotli")},
        "served_content_encoding": served_encoding,
    }


# ---- targets and the report ----------------------------------------------------------------------

# Why a target is missed, when it is. Each explanation is a template filled from the run it explains
# (`Ctx`): what the code does is stated as such, and every number is one this run measured.
# Findings of experiments made apart from the benchmark belong in the README, not here.

def us_per_request(x: dict) -> float:
    """The machine's time per request at saturation (the inverse of the rate), in µs."""
    return 1e6 / x["rps"]


def ratio(after: float, before: float) -> str:
    return f"×{after / before:.1f}" if before else "×?"


class Ctx:
    """One backend's measurements at the size a target is judged at, with the run around them."""

    def __init__(self, results: dict, backend: str, n: int, r: dict):
        self.results, self.backend, self.n, self.r = results, backend, n, r
        self.m = r["measurements"]
        self.sizes = results["backends"][backend]["sizes"]
        self.cpus = results["meta"]["cpus"]
        self.hash_threads = max(1, (self.cpus or 1) - 1)

    def disturbed(self) -> str:
        other = self.r.get("other_cpu_cores")
        if other is None:
            return ""
        if other > DISTURBED_CORES:
            return (f" Other work on the machine took {other:.2f} cores on average meanwhile (above {DISTURBED_CORES}): "
                    "these numbers are disturbed.")
        return f" Other work on the machine took {other:.2f} cores on average meanwhile."


def why_poll_path(c: Ctx) -> str:
    m = c.m
    poll, hz = m["poll"], m["healthz"]
    runs = hz.get("runs_rps", [hz["rps"]])
    if len(runs) > 1:
        spread = (f"the {len(runs)} /healthz runs of this size spread from {min(runs):,.0f} to {max(runs):,.0f} req/s "
                  f"(±{(max(runs) - min(runs)) / 2 / hz['rps']:.0%} around their median)")
    else:
        spread = "one run each (`--quick`), so this run measures no spread"
    return (
        "Each poll is a cookie parse, a SHA-256 of the token and one indexed lookup (the session joined with its "
        "account), read through rusqlite on the tokio worker that serves the request. In this run it answered "
        f"{poll['rps']:,.0f} req/s, {poll['rps'] / hz['rps']:.0%} of /healthz ({hz['rps']:,.0f} req/s), p50 "
        f"{fmt_ms(poll['p50_ms'])} ms against /healthz's {fmt_ms(hz['p50_ms'])} ms; {spread}. On {c.cpus} cores that wrk "
        f"shares, every microsecond of server CPU per request costs throughput at this rate: the machine spent "
        f"{us_per_request(poll):.1f} µs per poll and {us_per_request(hz):.1f} µs per /healthz. A cache of sessions is "
        "not an option: every request must see a revocation at once, on every instance." + c.disturbed())


def why_poll_p99_half(c: Ctx) -> str:
    h = c.m["poll_half_load"]
    text = (f"At {h['rps']:,.0f} req/s the poll's median is {fmt_ms(h['p50_ms'])} ms and its 99th percentile "
            f"{fmt_ms(h['p99_ms'])} ms. The tail is set by scheduling: the server's tokio workers and wrk's threads "
            f"share {c.cpus} cores, so a request that arrives while its worker is descheduled waits for a time slice.")
    hz = c.m.get("healthz_half_load")
    if hz:
        diff = h["p99_ms"] - hz["p99_ms"]
        text += (f" /healthz, which reads no database, offered the same load in this run ({hz['rps']:,.0f} req/s, paced "
                 f"alike) had a p99 of {fmt_ms(hz['p99_ms'])} ms: "
                 + ("the floor of this machine is itself above the target" if hz["p99_ms"] > 2.0 else
                    f"the poll adds {diff:.2f} ms to this machine's floor" if diff > 0 else
                    "no more than the poll's") + ".")
    return text + c.disturbed()


def why_poll_scaling(c: Ctx) -> str:
    sa, sb = c.sizes["10000"], c.sizes["1000000"]
    ma, mb = sa["measurements"], sb["measurements"]
    return (f"At 10^4 sessions the database is {sa['db_bytes'] / 1e6:,.1f} MB, at 10^6 {sb['db_bytes'] / 1e6:,.1f} MB. "
            "Each lookup then descends the token index and the sessions table one level deeper, plus the accounts "
            "table, and more of the pages it touches lie outside the CPU's caches; they are mapped (mmap), so no "
            f"system call is involved. Per poll the machine spent {us_per_request(ma['poll']):.1f} µs at 10^4 and "
            f"{us_per_request(mb['poll']):.1f} µs at 10^6; per /healthz {us_per_request(ma['healthz']):.1f} and "
            f"{us_per_request(mb['healthz']):.1f} µs.")


def why_page_rate(c: Ctx) -> str:
    p, hz = c.m["sessions_page"], c.m["healthz"]
    return (f"The page is server-rendered by Leptos (the shell, the table of the account's {p.get('sessions_listed', 10)} "
            "sessions with their device names parsed from the user agents, and the list again as the island's "
            f"props, {p['bytes_per_response']:,} bytes per answer). In this run: {p['rps']:,.0f} req/s, "
            f"{p['rps'] / hz['rps']:.0%} of /healthz, p50 {fmt_ms(p['p50_ms'])} ms at {p['connections']} connections, "
            f"{us_per_request(p):.0f} µs of the machine per page." + c.disturbed())


def why_storm_p99(c: Ctx) -> str:
    m = c.m
    st = m["login_storm"]
    b4, dur = m["poll_before_storm"]["p99_ms"], m["poll_during_storm"]["p99_ms"]
    hb, hd = m["healthz_before_storm"]["p99_ms"], m["healthz_during_storm"]["p99_ms"]
    text = ("Argon2id is CPU- and memory-bound by design (m = 19 MiB, t = 2 per login). The server keeps one core "
            f"free of hashing ({c.hash_threads} hashing thread(s) on {c.cpus} cores) and runs the hashing threads at "
            f"nice 19. In this run {st['ok_per_s']:,.1f} logins/s (p50 {fmt_ms(st['p50_ms'])} ms each) took the poll's "
            f"p99 from {fmt_ms(b4)} to {fmt_ms(dur)} ms ({ratio(dur, b4)}); /healthz, which touches no database, "
            f"paced alike, went from {fmt_ms(hb)} to {fmt_ms(hd)} ms ({ratio(hd, hb)}).")
    v = c.r.get("storm_hash_concurrency")
    if v:
        vb, vd = v["poll_before_storm"]["p99_ms"], v["poll_during_storm"]["p99_ms"]
        text += (f" With every core hashing (`--hash-concurrency {v['hash_concurrency']}`) the poll went "
                 f"{ratio(vd, vb)} at {v['login_storm']['ok_per_s']:,.1f} logins/s.")
    sign = [(k, m[f"signups{k}"]) for k in SIGNUP_PARALLEL if f"signups{k}" in m]
    if sign:
        text += " Beside the sign-ups of this run (a strength estimate and a hash each, on the same threads): " + "; ".join(
            f"{k} at once ({x['created_per_s']:,.1f}/s), poll "
            f"{ratio(m[f'poll_during_signups{k}']['p99_ms'], m[f'poll_before_signups{k}']['p99_ms'])}" for k, x in sign) + "."
    text += (" So what is left is queueing on the core that hashing leaves free, shared by every request, the "
             "logins' database writes and the load generator. What would help: hashing on other machines, fewer "
             "logins per second than one core hashes, or cores the load generator does not share.")
    return text + c.disturbed()


def why_signup_p99(c: Ctx) -> str:
    m = c.m
    parts = []
    for k in SIGNUP_PARALLEL:
        if f"signups{k}" not in m:
            continue
        x = m[f"signups{k}"]
        hb, hd = m[f"healthz_before_signups{k}"], m[f"healthz_during_signups{k}"]
        pb, pd = m[f"poll_before_signups{k}"], m[f"poll_during_signups{k}"]
        parts.append(f"{k} at once, {x['created_per_s']:,.1f} accounts/s (p50 {fmt_ms(x['p50_ms'])} ms each): /healthz "
                     f"p99 {fmt_ms(hb['p99_ms'])} → {fmt_ms(hd['p99_ms'])} ms ({ratio(hd['p99_ms'], hb['p99_ms'])}; p90 "
                     f"{fmt_ms(hd['p90_ms'])}, max {fmt_ms(hd['max_ms'])} ms) at {hb['rps']:,.0f} req/s; the poll, measured "
                     f"just before it beside the same sign-ups, {fmt_ms(pb['p99_ms'])} → {fmt_ms(pd['p99_ms'])} ms "
                     f"({ratio(pd['p99_ms'], pb['p99_ms'])}; max {fmt_ms(pd['max_ms'])} ms)")
    sb, sd = m["healthz_before_storm"]["p99_ms"], m["healthz_during_storm"]["p99_ms"]
    return ("Each sign-up runs the strength estimate on the first 32 characters of its 256-character password and "
            f"one argon2id hash, both on the {c.hash_threads} hashing thread(s) at nice 19, not on an async worker, "
            "then writes an account and a session. In this run: " + "; ".join(parts) + ". Beside the login storm of "
            f"the same run the same control went {ratio(sd, sb)}. Whether a stall is the server's or the machine's "
            "cannot be told from one run on a disturbed machine; on a quiet one it can." + c.disturbed())


def why_last_active(c: Ctx) -> str:
    m = c.m
    p = m["sessions_page"]
    return (f"{m['poll']['last_active_writes']} writes during {m['poll'].get('requests_all_runs', m['poll']['requests']):,} "
            f"polls (polls must never write) and {p['last_active_writes']} during {p['requests']:,} page loads of one "
            f"session. The write of \"last active\" is conditional in the database (`Store::touch`: UPDATE … WHERE "
            "last_active_at <= now − 1 minute), so of requests that all read a stale value only the first changes the "
            "row: more writes mean a path that writes without that condition (or another UPDATE of last_active_at, "
            "which the benchmark's trigger counts too).")


def why_wasm(c_results: dict) -> str:
    b = c_results["bundle"]
    return (f"The login page loads {b['login_wasm']['gzip'] / 1000:,.1f} KB of WASM gzip ({b['login_wasm']['raw'] / 1000:,.1f} KB "
            f"raw, {(b['login_wasm']['brotli'] or 0) / 1000:,.1f} KB brotli), {b['login_total']['gzip'] / 1000:,.1f} KB gzip "
            "with its JS and CSS. The client is Leptos islands: only the session guard (poll and notice), the sessions "
            "manager and the forms are WASM, calling the server functions through one small fetch helper; the "
            "wasm-release profile (opt-level \"z\", LTO, one codegen unit, panic = abort) and wasm-opt apply. Where the "
            "rest goes is in ARCHITECTURE.md.")


def why_pg_poll(c: Ctx) -> str:
    poll, hz = c.m["poll"], c.m["healthz"]
    return ("Each poll is a round trip over loopback TCP to a PostgreSQL backend process, and the server, "
            f"PostgreSQL's backends and wrk share {c.cpus} cores: every poll needs three processes to run in turn. In "
            f"this run: {poll['rps']:,.0f} req/s, {poll['rps'] / hz['rps']:.0%} of /healthz, p50 {fmt_ms(poll['p50_ms'])} ms, "
            f"{us_per_request(poll):.1f} µs of the machine per poll. PostgreSQL is for deployments with several instances, "
            "where it runs on its own machine." + c.disturbed())


def why_bare(c: Ctx) -> str:
    m = c.m
    bare, hz, poll = m["bare_axum"], m["healthz"], m["poll"]
    return (
        f"A bare axum hello answered {bare['rps']:,.0f} req/s in this run ({us_per_request(bare):.1f} µs of the machine per "
        f"request), /healthz {hz['rps']:,.0f} ({us_per_request(hz):.1f} µs) and the poll {poll['rps']:,.0f} "
        f"({us_per_request(poll):.1f} µs). Both of ours pass one service around the router (request id, its log "
        "span, the security headers, the JSON error shape), answer with those headers (about 250 bytes more for the "
        "load generator to read), and have a header read timeout (one timer per connection), which the bare hello "
        "has not; the poll adds its cookie, a "
        "SHA-256 of the token and an indexed SQLite lookup, read in groups (the lookups that arrive together share "
        "one read transaction, whose begin and end cost more than the lookup). Where the instructions go (callgrind, "
        "which counts them the same on a busy machine) is in the README, *What every request costs*." + c.disturbed())


WHY = {
    "healthz_bare": why_bare,
    "poll_bare": why_bare,
    "poll_rate": why_poll_path,
    "poll_ratio": why_poll_path,
    "poll_p99_half": why_poll_p99_half,
    "poll_scaling": why_poll_scaling,
    "page_rate": why_page_rate,
    "storm_p99": why_storm_p99,
    "signup_p99": why_signup_p99,
    "last_active_writes": why_last_active,
    "pg_poll_rate": why_pg_poll,
}


def why_push_rss(p: dict) -> str:
    b, o = p["rss_before"], p["rss_open"]
    return (f"VmRSS went from {b['rss_kib'] / 1024:.1f} to {o['rss_kib'] / 1024:.1f} MiB as {p['rounds'][0]['opened']['open']:,} "
            f"streams opened, of it the heap (RssAnon) {(b['anon_kib'] or 0) / 1024:.1f} → {(o['anon_kib'] or 0) / 1024:.1f} MiB "
            f"({p['anon_per_stream_kb']} KB per stream; the sockets' kernel buffers are not in this figure). What each "
            "stream holds in the server once hyper has written its head and let go of the connection (server/src/serve.rs): "
            "the socket and its registration, a small tokio task writing the SSE body, the body's futures (the "
            "watcher's, suspended in a select over the hub's signal and the session's expiry timer, and the keep-alive "
            "timer), and the hub's entry. How the kilobytes divide among them this benchmark does not measure.")


def why_push_cpu(p: dict) -> str:
    i = p["idle"]
    return (f"Over {i['seconds']:.0f} s with {i['open']:,} streams open and nothing else to do the server used "
            f"{i['server_cpu_pct']}% of one core; the streams received {i['heartbeats']:,} heartbeats meanwhile (one "
            "per stream every 25 s, each a timer firing and a write)."
            + (" The SQLite change feed also reads `session_changes` four times a second." if p["idle"].get("pg_cpu_pct") is None
               else "") + (f" Other work on the machine took {i['other_cpu_cores']:.2f} "
                                                         "cores on average meanwhile." if i.get("other_cpu_cores") else ""))


def why_push_rate(p: dict, k: str) -> str:
    w, s_ = p[f"{k}_without"], p[f"{k}_with"]
    return (f"Medians of {len(w.get('runs_rps', [w['rps']]))} alternating runs: {w['rps']:,.0f} req/s without the streams "
            f"(runs {', '.join(f'{x:,.0f}' for x in w.get('runs_rps', []))}), {s_['rps']:,.0f} with them (runs "
            f"{', '.join(f'{x:,.0f}' for x in s_.get('runs_rps', []))}). An idle stream does nothing per request (no "
            "database read, no wake-up; a heartbeat every 25 s), so a lower rate with them open is either the cost of "
            "holding them (memory, a larger set of sockets and timers) or the machine's drift between runs minutes "
            "apart; one run cannot tell which, more alternating runs on a quiet machine can."
            + (f" Other work on the machine took up to {max(p[f'{k}_other_cpu_cores']):.2f} cores during these runs "
               f"(above {DISTURBED_CORES}): the comparison is disturbed." if max(p.get(f"{k}_other_cpu_cores") or [0]) > DISTURBED_CORES
               else ""))


def why_push_revocation(p: dict) -> str:
    r = p["revocation"]
    via = ("ended on instance B, the change reaching instance A through PostgreSQL's NOTIFY and A's listener "
           "connection, then the stream reading its session" if r.get("instances") == 2 else
           "ended on the same instance, whose store wakes the stream after the commit, and the stream reading its session")
    return (f"From just before the DELETE is written to the `ended` event on the victim's stream: p50 {fmt_ms(r['p50_ms'])}, "
            f"p99 {fmt_ms(r['p99_ms'])}, max {fmt_ms(r['max_ms'])} ms, of which the DELETE's own answer took p50 "
            f"{fmt_ms(r['delete_p50_ms'])} / p99 {fmt_ms(r['delete_p99_ms'])} ms; {via}. The tail is the 2 cores "
            "shared by the server, the load generator" + (" and PostgreSQL" if r.get("instances") == 2 else "") + ".")


def why_browser_notice(b: dict) -> str:
    tail = sorted(b["notice_all_ms"])[-3:]
    return (f"From the DELETE's 204 arriving at the test process to the first task after the frame that painted the notice: "
            f"p50 {fmt_ms(b['notice_p50_ms'])}, p99 {fmt_ms(b['notice_p99_ms'])}, max {fmt_ms(b['notice_max_ms'])} ms (the "
            f"slowest three {', '.join(fmt_ms(x) for x in tail)} ms); the notice was in the DOM p50 {fmt_ms(b['inserted_p50_ms'])} / "
            f"p99 {fmt_ms(b['inserted_p99_ms'])} ms after the 204, the rest is the wait for the next frame. On the way: the store "
            "wakes the stream after the commit, the server writes `ended`, Chromium's EventSource dispatches it to the "
            "WASM watcher, which sets the signal that renders the notice. With "
            f"{b['trials']} trials the p99 is their maximum; Chromium, the server and the test process share "
            "this machine's cores with its other work"
            + (f" (load average {b['meta']['loadavg_before']} before, {b['meta']['loadavg_after']} after)" if b.get("meta") else "")
            + ".")


def why_browser_idle(b: dict) -> str:
    seen = "; ".join(f"{x['method']} {x['path']} at {x['at_s']} s" for x in b["idle_request_log"]) or "none"
    return (f"In {b['idle_window_ms'] / 1000:.0f} s the idle tab's browser context started {b['idle_requests']} requests: "
            f"{seen}. With a healthy stream the page polls `/api/session/status` once per "
            "`--stream-poll-interval-ms` (60 s by default) and makes no other request; a second stream request "
            "would be the stream failing and reopening.")


def browser_targets(backend: str, b: dict, smoke: bool, add) -> None:
    few = b["trials"] < BROWSER_TRIALS
    note_ = "smoke run" if smoke else (f"{b['trials']} trials: too few to judge" if few else "")
    polled = f"; {b['trials_with_poll']} trial(s) had a status poll meanwhile" if b.get("trials_with_poll") else ""
    add("push_browser_notice", backend, f"end of a session → notice visible in its browser (Chromium), p99 ≤ {BROWSER_NOTICE_P99_MS} ms",
        f"p50 {fmt_ms(b['notice_p50_ms'])} / p99 {fmt_ms(b['notice_p99_ms'])} / max {fmt_ms(b['notice_max_ms'])} ms over "
        f"{b['trials']} trials, from the 204 of `DELETE /api/v1/sessions/{{id}}`, server polling every "
        f"{b.get('meta', {}).get('poll_interval_ms', BROWSER_POLL_MS) // 1000} s{polled}",
        None if smoke or few else (b["notice_p99_ms"] <= BROWSER_NOTICE_P99_MS and not b.get("trials_with_poll")),
        None, note_, b, why_browser_notice)
    short = b["idle_window_ms"] < MINUTE
    add("push_browser_idle", backend, f"an idle tab with a healthy stream makes ≤ {BROWSER_IDLE_PER_MIN} request a minute (was 12 with the 5 s poll)",
        f"{b['idle_requests_per_minute']} a minute ({b['idle_requests']} requests in {b['idle_window_ms'] / 1000:.0f} s"
        f"{', ' + ', '.join(x['path'] for x in b['idle_request_log']) if b['idle_request_log'] else ''}; "
        f"{b['idle_streams_open']} stream open at the end)",
        None if smoke or short else (b["idle_requests_per_minute"] <= BROWSER_IDLE_PER_MIN and b["idle_streams_open"] == 1),
        None, "smoke run" if smoke else ("window shorter than a minute" if short else ""), b, why_browser_idle)


def push_targets(results: dict, opts, add) -> None:
    smoke = results["meta"].get("smoke")
    for backend, res in results["backends"].items():
        p = res.get("push")
        if not p:
            continue
        if p.get("browser"):
            browser_targets(backend, p["browser"], bool(p["browser"].get("smoke", smoke)), add)
        if "rounds" not in p:
            continue
        judge = (lambda met: None) if p["streams"] < 1000 else (lambda met: met)
        small = f"{p['streams']:,} streams: too few to judge" if p["streams"] < 1000 else ""
        n_open = p["rounds"][0]["opened"]["open"]
        kb = p["rss_per_stream_kb"]
        add("push_rss", backend, f"server memory per idle event stream ≤ {PUSH_RSS_KB} KB",
            f"{kb} KB per stream (VmRSS {p['rss_before']['rss_kib'] / 1024:.1f} → {p['rss_open']['rss_kib'] / 1024:.1f} MiB "
            f"for {n_open:,} streams; heap {p['anon_per_stream_kb']} KB)", judge(kb <= PUSH_RSS_KB), None, small,
            p, why_push_rss)
        i = p["idle"]
        add("push_idle_cpu", backend, f"server CPU ≈ 0 while {p['streams']:,} streams idle (≤ 1% of a core; heartbeats only)",
            f"{i['server_cpu_pct']}% of a core over {i['seconds']:.0f} s, {i['heartbeats']:,} heartbeats"
            + (f"; PostgreSQL {i['pg_cpu_pct']}%" if i.get("pg_cpu_pct") is not None else ""),
            judge(i["server_cpu_pct"] <= 1.0), None, small, p, why_push_cpu)
        for k, label in (("poll", "poll"), ("page", "Manage Sessions page")):
            w, s_ = p[f"{k}_without"], p[f"{k}_with"]
            add(f"push_{k}_ratio", backend, f"{label} with the streams open ≥ {1 - PUSH_RATE_DROP:.0%} of without",
                f"{p[f'{k}_ratio']:.0%} ({w['rps']:,.0f} → {s_['rps']:,.0f} req/s, medians of {len(w.get('runs_rps', [1]))} "
                "alternating runs)", judge(p[f"{k}_ratio"] >= 1 - PUSH_RATE_DROP), None, small, p,
                lambda p_, k=k: why_push_rate(p_, k))
        r = p["revocation"]
        limit = PUSH_P99_MS[backend]
        where = "two instances" if r.get("instances") == 2 else "one instance"
        add("push_revocation", backend, f"end of a session → `ended` on its stream, p99 ≤ {limit} ms ({where})",
            f"p50 {fmt_ms(r['p50_ms'])} / p99 {fmt_ms(r['p99_ms'])} / max {fmt_ms(r['max_ms'])} ms over {r['trials']:,} "
            f"trials with {n_open:,} other streams open" + (f", {r['failures']} failed" if r["failures"] else ""),
            None if smoke or r["p99_ms"] is None else (r["p99_ms"] <= limit and not r["failures"]), None,
            "smoke run" if smoke else "", p, why_push_revocation)


def pick_size(sizes: dict, want: int):
    if str(want) in sizes:
        return want, sizes[str(want)]
    if not sizes:
        return None, None
    k = min(sizes, key=lambda s: abs(math.log10(int(s)) - math.log10(want)))
    return int(k), sizes[k]


def targets(results: dict, opts) -> list[dict]:
    out = []

    def add(tid, backend, target, measured, met, at=None, note_="", ctx=None, explain=None):
        why = ""
        if met is False:
            try:
                why = (explain(ctx) if explain else WHY[tid](ctx) if tid in WHY else
                       why_wasm(results) if tid == "wasm_login" else "")
            except (KeyError, TypeError, ZeroDivisionError):
                # Results kept from an older run (--merge) may lack a measurement an explanation uses.
                why = ""
        out.append({"id": tid, "backend": backend, "target": target, "measured": measured, "met": met,
                    "at_sessions": at, "note": note_, "why": why})

    for backend, res in results["backends"].items():
        sizes = res["sizes"]
        n, r = pick_size(sizes, 100_000)
        if r is None:
            continue
        m = r["measurements"]
        c = Ctx(results, backend, n, r)
        at_note = "" if n == 100_000 else f"at {n:,} sessions; the target is for 100,000"
        if backend == "sqlite":
            add("poll_rate", backend, "poll ≥ 25,000 req/s", f"{m['poll']['rps']:,.0f} req/s", m["poll"]["rps"] >= 25_000, n, at_note, c)
            ratio_ = m["poll"]["ratio_to_healthz"]
            add("poll_ratio", backend, "poll ≥ 50% of /healthz", f"{ratio_:.0%} ({m['healthz']['rps']:,.0f} req/s /healthz)",
                ratio_ >= 0.5, n, at_note, c)
            if "bare_axum" in m:
                bare_rps = m["bare_axum"]["rps"]
                for tid, key, name, goal in (("healthz_bare", "healthz", "/healthz", 0.8), ("poll_bare", "poll", "poll", 0.5)):
                    runs = ", ".join(f"{x:.2f}" for x in m[key]["ratios_to_bare"])
                    add(tid, backend, f"{name} ≥ {goal:.1f} × a bare axum hello", f"{m[key]['ratio_to_bare']:.2f} × "
                        f"({m[key]['rps']:,.0f} vs {bare_rps:,.0f} req/s; median of the runs' ratios {runs})",
                        m[key]["ratio_to_bare"] >= goal, n, at_note, c)
            else:
                for tid, name, goal in (("healthz_bare", "/healthz", "0.8"), ("poll_bare", "poll", "0.5")):
                    add(tid, backend, f"{name} ≥ {goal} × a bare axum hello", "not measured (results of an older run)", None)
            h = m["poll_half_load"]
            hz_alike = (f"; /healthz offered the same load: p99 {fmt_ms(m['healthz_half_load']['p99_ms'])} ms"
                        if "healthz_half_load" in m else "")
            add("poll_p99_half", backend, "poll p99 ≤ 2 ms at half the maximum load",
                f"{h['p99_ms']} ms at {h['rps']:,.0f} req/s{hz_alike}", h["p99_ms"] <= 2.0, n, at_note, c)
            if "10000" in sizes and "1000000" in sizes:
                # Compared as shares of the same run's /healthz: the machine's own speed drifts
                # between sizes (minutes apart) by more than the effect measured.
                ma, mb = sizes["10000"]["measurements"], sizes["1000000"]["measurements"]
                a, b = ma["poll"]["ratio_to_healthz"], mb["poll"]["ratio_to_healthz"]
                drop = 1 - b / a
                add("poll_scaling", backend, "poll rate drops ≤ 20% from 10^4 to 10^6 sessions",
                    f"{a:.0%} → {b:.0%} of /healthz ({drop:.0%} lower)" if drop > 0 else f"{a:.0%} → {b:.0%} of /healthz (not lower)",
                    drop <= 0.20, None,
                    f"absolute: {ma['poll']['rps']:,.0f} → {mb['poll']['rps']:,.0f} req/s, /healthz {ma['healthz']['rps']:,.0f} → "
                    f"{mb['healthz']['rps']:,.0f}", c)
            else:
                add("poll_scaling", backend, "poll rate drops ≤ 20% from 10^4 to 10^6 sessions", "not run (needs both sizes)", None)
            add("page_rate", backend, "Manage Sessions page ≥ 5,000 req/s",
                f"{m['sessions_page']['rps']:,.0f} req/s", m["sessions_page"]["rps"] >= 5_000, n, at_note, c)
            b4, dur = m["poll_before_storm"]["p99_ms"], m["poll_during_storm"]["p99_ms"]
            hb, hd = m["healthz_before_storm"]["p99_ms"], m["healthz_during_storm"]["p99_ms"]
            v = r.get("storm_hash_concurrency")
            alt = ""
            if v:
                vb, vd = v["poll_before_storm"]["p99_ms"], v["poll_during_storm"]["p99_ms"]
                alt = (f"; with every core hashing (`--hash-concurrency {v['hash_concurrency']}`): {vb} → {vd} ms "
                       f"({ratio(vd, vb)}), {v['login_storm']['ok_per_s']:,.1f} instead of "
                       f"{m['login_storm']['ok_per_s']:,.1f} logins/s")
            add("storm_p99", backend, "poll p99 at most doubles during a 64-way login storm",
                f"{b4} → {dur} ms ({ratio(dur, b4)}) at {m['poll_before_storm']['rps']:,.0f} req/s; "
                f"control, /healthz: {hb} → {hd} ms ({ratio(hd, hb)}){alt}", dur <= 2 * b4, n, at_note, c)
            pw = m["poll"]["last_active_writes"]
            sw = m["sessions_page"]["last_active_writes"]
            allowed = math.ceil(m["sessions_page"]["duration_s"] / 60)
            idle = m["sessions_page"].get("idle_minutes_before")
            add("last_active_writes", backend, "≤ 1 last-active write per session per minute; polls never write",
                f"{m['poll'].get('requests_all_runs', m['poll']['requests']):,} polls → {pw} writes; {m['sessions_page']['requests']:,} page loads of one session in "
                f"{m['sessions_page']['duration_s']:.0f} s, 64 at a time, starting "
                + (f"{idle:.1f} minutes" if idle is not None else "minutes")
                + f" after its last activity → {sw} write(s)", pw == 0 and sw <= allowed, n, at_note, c)
        if backend == "postgres":
            add("pg_poll_rate", backend, "PostgreSQL: poll ≥ 8,000 req/s", f"{m['poll']['rps']:,.0f} req/s",
                m["poll"]["rps"] >= 8_000, n, at_note, c)
        # CPU-heavy sign-ups (issue 11, item 1): four at once used to stall /healthz for over a
        # second. The target: its p99 at most doubles, like the poll's beside the login storm.
        sn, sr = next(((int(k), v) for k, v in sizes.items() if f"signups{SIGNUP_PARALLEL[0]}" in v["measurements"]),
                      (None, None))
        if sr is not None:
            sm = sr["measurements"]
            parts, met = [], True
            for k in SIGNUP_PARALLEL:
                if f"signups{k}" not in sm:
                    continue
                hb, hd = sm[f"healthz_before_signups{k}"]["p99_ms"], sm[f"healthz_during_signups{k}"]["p99_ms"]
                pb, pd = sm[f"poll_before_signups{k}"]["p99_ms"], sm[f"poll_during_signups{k}"]["p99_ms"]
                met = met and hd <= 2 * hb
                parts.append(f"{k} at once ({sm[f'signups{k}']['created_per_s']:,.1f} accounts/s): {hb} → {hd} ms "
                             f"({ratio(hd, hb)}, max {fmt_ms(sm[f'healthz_during_signups{k}']['max_ms'])} ms); "
                             f"poll {pb} → {pd} ms ({ratio(pd, pb)})")
            add("signup_p99", backend, "/healthz p99 at most doubles while 256-character sign-ups run (4 and 16 at once)",
                "; ".join(parts) + f"; paced at {sm[f'healthz_before_signups{SIGNUP_PARALLEL[0]}']['rps']:,.0f} req/s",
                met, sn, "", Ctx(results, backend, sn, sr))
    push_targets(results, opts, add)
    b = results.get("bundle")
    if b and b["login_wasm"]["gzip"]:
        g = b["login_wasm"]["gzip"]
        add("wasm_login", "-", "WASM the login page loads ≤ 150 KB gzip",
            f"{g / 1000:,.1f} KB gzip ({g / 1024:,.1f} KiB); all routes: {b['all_routes_wasm']['gzip'] / 1000:,.1f} KB", g <= 150_000)
    elif not b:
        add("wasm_login", "-", "WASM the login page loads ≤ 150 KB gzip", "not measured (no site build: `cargo leptos build --release`)", None)
    else:
        add("wasm_login", "-", "WASM the login page loads ≤ 150 KB gzip",
            f"not measured: the login page names no .wasm of target/site/pkg (it loads {', '.join(b['login_page_loads']) or 'none'})", None)
    return out


def fmt_ms(v):
    return "–" if v is None else (f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 100 else f"{v:.0f}")


def fmt_kb(v):
    return "–" if v is None else f"{v / 1000:,.1f} KB"


def disturbed(other: list | None) -> str:
    if not other:
        return ""
    worst = max(other)
    return (f"; other work on the machine up to {worst:.2f} cores" +
            (" — **disturbed**" if worst > DISTURBED_CORES else ""))


def browser_markdown(b: dict) -> list[str]:
    bm = b.get("meta", {})
    L = [f"### push in the browser (Chromium)\n",
         f"Run {bm.get('started', '?')} on commit `{bm.get('commit', '?')}` (`{bm.get('command', '?')}`), {bm.get('chromium', '?')}, "
         f"site built {bm.get('site_built', '?')}, {bm.get('elapsed_s', 0)} s in all; load average "
         f"{bm.get('loadavg_before', '?')} before, {bm.get('loadavg_after', '?')} after.\n",
         "| measurement | result |", "| --- | --- |",
         f"| end of a session → notice painted in its browser, from the `DELETE`'s 204 | p50 {fmt_ms(b['notice_p50_ms'])} / "
         f"p99 {fmt_ms(b['notice_p99_ms'])} / max {fmt_ms(b['notice_max_ms'])} ms over {b['trials']} trials (min "
         f"{fmt_ms(b['notice_min_ms'])}); {b['trials_with_poll']} trial(s) with a status poll between the `DELETE` and the notice |",
         f"| … the notice in the DOM (MutationObserver), from the 204 | p50 {fmt_ms(b['inserted_p50_ms'])} / p99 "
         f"{fmt_ms(b['inserted_p99_ms'])} ms |",
         f"| … from sending the `DELETE` (painted) / the `DELETE` itself | p99 {fmt_ms(b['from_sent_p99_ms'])} ms / p50 "
         f"{fmt_ms(b['delete_p50_ms'])}, p99 {fmt_ms(b['delete_p99_ms'])} ms |",
         f"| requests an idle tab with a healthy stream starts | {b['idle_requests']} in {b['idle_window_ms'] / 1000:.0f} s "
         f"({b['idle_requests_per_minute']} a minute): "
         + ("; ".join(f"`{x['method']} {x['path']}` at {x['at_s']} s" for x in b["idle_request_log"]) or "none")
         + f"; {b['idle_streams_open']} stream open at the end |",
         ""]
    L.append(f"`end2end/bench/push-browser.spec.ts` (Playwright, `end2end/bench.config.ts`) against a release server on a "
             f"fresh SQLite database that polls every {bm.get('poll_interval_ms', BROWSER_POLL_MS) // 1000} s, so only the "
             "push explains a notice within the second. Each trial logs a fresh browser context in, waits for its event "
             "stream and for its page to settle, then the mail app (another session of the account) ends that browser's "
             "session with `DELETE /api/v1/sessions/{id}`, sent by the test process over node's own HTTP client and "
             "stamped when the 204's headers arrive. The page stamps the notice itself: a MutationObserver sees it "
             "inserted, and the first task after the next animation frame (the frame that paints it) takes `Date.now()`; "
             "the browser and the test process read the same clock. The idle tab's requests are those its browser "
             "context starts once its stream is open and its loading has settled (no request in flight for 1 s).\n")
    return L


def push_markdown(backend: str, p: dict) -> list[str]:
    L = []
    skipped = ([f"The push's browser part (Chromium) was not measured: {p['browser_skipped']}.\n"]
               if p.get("browser_skipped") and not p.get("browser") else [])
    if "rounds" not in p:
        # Only the browser part was measured (--only push-browser into a results.json without the streams).
        if p.get("browser") or skipped:
            L.append(f"## {backend}: push (event streams)\n")
            L.extend(browser_markdown(p["browser"]) if p.get("browser") else skipped)
        return L
    pm = p["meta"]
    L.append(f"## {backend}: push (event streams)\n")
    L.append(f"Run {pm['started']} on commit `{pm['commit']}` (`{pm['command']}`), {pm['duration_s']} s per throughput "
             f"run, {pm['elapsed_s'] // 60} min in all; load average {pm['loadavg_before']} before, "
             f"{pm.get('loadavg_after', '?')} after.\n")
    r0 = p["rounds"][0]["opened"]
    rev = p["revocation"]
    i = p["idle"]
    L.append("| measurement | result |")
    L.append("| --- | --- |")
    L.append(f"| idle streams opened (`GET /api/session/events`, one per session, fresh server) | {r0['open']:,} of {r0['idle_streams']:,} "
             f"in {r0['all_open_s']} s, {r0['failed']} failed; first `sessions` event p50 {fmt_ms(r0['first_event_p50_ms'])} "
             f"/ p99 {fmt_ms(r0['first_event_p99_ms'])} ms (128 opening at once) |")
    b, o = p["rss_before"], p["rss_open"]
    L.append(f"| server RSS before / with the streams open, MiB | {b['rss_kib'] / 1024:.1f} (heap {(b['anon_kib'] or 0) / 1024:.1f}) / "
             f"{o['rss_kib'] / 1024:.1f} (heap {(o['anon_kib'] or 0) / 1024:.1f}) |")
    L.append(f"| server memory per idle stream | {p['rss_per_stream_kb']} KB VmRSS, {p['anon_per_stream_kb']} KB heap |")
    L.append(f"| server CPU while the streams idle | {i['server_cpu_pct']}% of one core over {i['seconds']:.0f} s; "
             f"{i['heartbeats']:,} heartbeats arrived; {i['lost']} streams lost"
             + (f"; PostgreSQL's processes {i['pg_cpu_pct']}%" if i.get("pg_cpu_pct") is not None else "")
             + f"; other work on the machine {i['other_cpu_cores']:.2f} cores |")
    for k, label in (("poll", "poll `GET /api/session/status`"), ("page", "Manage Sessions page")):
        w, s_ = p[f"{k}_without"], p[f"{k}_with"]
        L.append(f"| {label}: without / with the streams | {w['rps']:,.0f} / {s_['rps']:,.0f} req/s (×{p[f'{k}_ratio']:.3f}); "
                 f"runs {rates([{'rps': x} for x in w.get('runs_rps', [w['rps']])])} / "
                 f"{rates([{'rps': x} for x in s_.get('runs_rps', [s_['rps']])])}; p99 {fmt_ms(w['p99_ms'])} / "
                 f"{fmt_ms(s_['p99_ms'])} ms" + disturbed(p.get(f"{k}_other_cpu_cores")) + " |")
    where = ("ended on instance B, streams on instance A (same database)" if rev.get("instances") == 2 else
             "one instance")
    L.append(f"| end of a session → `ended` on its stream ({where}) | p50 {fmt_ms(rev['p50_ms'])} / p90 {fmt_ms(rev['p90_ms'])} / "
             f"p99 {fmt_ms(rev['p99_ms'])} / max {fmt_ms(rev['max_ms'])} ms over {rev['trials']:,} trials, "
             f"{rev['failures']} failed; the `DELETE` itself p50 {fmt_ms(rev['delete_p50_ms'])} / p99 "
             f"{fmt_ms(rev['delete_p99_ms'])} ms |")
    L.append(f"| streams that failed to open / were lost, all {len(p['rounds'])} rounds | {p['stream_failures']} / {p['streams_lost']} |")
    a = p.get("rss_after")
    if a:
        L.append(f"| server RSS after every round (pages rendered 64 at a time meanwhile), MiB | {a['rss_kib'] / 1024:.1f} "
                 f"(heap {(a['anon_kib'] or 0) / 1024:.1f}, peak {a['hwm_kib'] / 1024:.1f}) |")
    L.append("")
    L.append(f"The streams are held by `server/examples/postern-streams.rs`, one process with one plain HTTP/1.1 "
             f"connection per stream, on the same {'machine'} as the server. Memory per stream is the growth of the "
             "server's VmRSS (and of its heap, RssAnon) from just before the streams opened to a second after the last "
             "one had its first event, divided by the streams, on a server that has answered only polls so far (a "
             "first round, before any page load: the heap a burst of pages leaves behind would hide the streams' "
             "allocations). The idle CPU is the server's own clock ticks "
             f"(`/proc/PID/stat`) over {pm['idle_s']} s with the streams open and no requests, longer than the 25 s "
             "between heartbeats. The throughputs are wrk runs (64 connections) alternating without and with the "
             f"streams, {pm['repeats']} of each (the generator opens them anew each round); the medians are reported. "
             "Each revocation trial ends one session (`DELETE /api/v1/sessions/{id}` with another session of its "
             "account as the actor) whose stream the generator holds besides the idle ones, and times from just "
             "before the request is written to the `ended` event on that stream; each victim has an account of its "
             "own, so an end wakes one stream.\n")
    if p.get("browser"):
        L.extend(browser_markdown(p["browser"]))
    L.extend(skipped)
    return L


def markdown(results: dict) -> str:
    meta = results["meta"]
    L = []
    L.append("# Postern benchmark results\n")
    site = (f"the site {meta['site_built']}" if meta.get("site_built") else
            "no site build, so the WASM bundle was not measured")
    kept = [f"{b} from the run of {r['meta']['started']} on commit `{r['meta']['commit']}`"
            for b, r in results["backends"].items() if r.get("meta", {}).get("started", "") < meta["started"]]
    L.append(f"Generated by `{meta['command']}` on {meta['started']} (commit `{meta['commit']}`; the release "
             f"server was built {meta.get('server_built', '?')}, {site})"
             + (f"; results kept (`--merge`): {', '.join(kept)}" if kept else "") + ".\n")
    L.append(f"Machine: {meta['cpus']} × {meta['cpu_model']}, {meta['mem_gib']} GiB RAM; load average before the run "
             f"{meta['loadavg_before']}. Load generator: {meta['wrk']} on the same machine, over 127.0.0.1; "
             f"{WRK_THREADS} threads, {WRK_CONNECTIONS} connections for the throughput runs, {meta['duration_s']} s per "
             f"measurement. Server: `target/release/server` with its default settings (poll interval "
             f"{meta['poll_interval_ms']} ms, argon2id m = 19 MiB, t = 2, hash concurrency = cores − 1), except "
             f"`POSTERN_TRUSTED_PROXIES=127.0.0.1`, so that the login storm and the sign-ups come from many client "
             f"addresses (`X-Forwarded-For`) as a crowd of people would, and the login throttle does not count them "
             f"as guessing from one address, and `POSTERN_SIGNUP_LIMIT_PER_HOUR={meta.get('signup_limit_per_hour', SIGNUP_LIMIT)}` "
             f"(default 20 per address), so that no sign-up of the run is refused.\n")
    if meta.get("work_dir_fs") == "tmpfs":
        L.append(f"The SQLite databases were on a tmpfs (`--work-dir {meta['work_dir']}`), not on disk. With WAL and "
                 "`synchronous = NORMAL` SQLite does not sync on commit, and reads come from memory either way, so this "
                 "mostly spares the disk; PostgreSQL's data directory is where the cluster keeps it.\n")
    L.append("Latencies are wrk's, from sending a request to its complete answer. *Ratio* is the throughput "
             "divided by the `/healthz` throughput measured on the same server in the same run: `/healthz` answers "
             "without touching the database, so it is the limit this machine, this HTTP stack and this load "
             "generator set. Ratios carry over from one machine to the next; absolute numbers do not.\n")
    L.append("Seeded data: N sessions over N/10 accounts, all active \"Stay logged in\" browsers (70%) and mail "
             "apps (30%), written by the seeding program (`server/examples/postern-seed.rs`) through the product's own "
             "store (migrations, `create_account`, `create_session`, and bulk inserts of the same rows in "
             "`app/src/ssr/store/seed.rs`) with tokens from its token module and one argon2id hash of the benchmark's "
             f"password, which every seeded account shares. The poll rotates over {POLL_TOKENS:,} of them spread "
             "evenly over the whole table. "
             "*Half load* and *before/during the storm* are paced runs (every connection waits "
             f"{PACE_MS} ms between requests), so they measure latency at a given offered load, not at saturation. "
             f"Beside the login storm and the sign-ups the poll is paced at {STORM_POLL_FRACTION:.0%} of its maximum "
             f"rate, and `/healthz` likewise as a control. The sign-ups ({' and '.join(map(str, SIGNUP_PARALLEL))} at "
             "once, at the size the targets are judged at) are the strength estimate's worst case: 256-character "
             "passwords of punctuation and digits, each a new account from another client address.\n")
    L.append("Each size also records how much CPU other work on the machine took meanwhile (everything but the "
             "server, wrk, the benchmark script and, on PostgreSQL, its processes; from `/proc`): above "
             f"{DISTURBED_CORES} cores on average its numbers are marked *disturbed*.\n")

    L.append("## Targets\n")
    L.append("| target | backend | measured | met? |")
    L.append("| --- | --- | --- | --- |")
    for t in results["targets"]:
        verdict = "not measured" if t["met"] is None else ("**met**" if t["met"] else "**missed**")
        extra = f" — {t['note']}" if t.get("note") else ""
        L.append(f"| {t['target']} | {t['backend']} | {t['measured']}{extra} | {verdict} |")
    L.append("")
    missed = [t for t in results["targets"] if t["met"] is False]
    if missed:
        L.append("### Why the missed targets are missed\n")
        for t in missed:
            L.append(f"- **{t['target']}** ({t['backend']}): {t['why'] or 'see the measurements below.'}")
        L.append("")

    for backend, res in results["backends"].items():
        if res.get("push"):
            L.extend(push_markdown(backend, res["push"]))
        sizes = res.get("sizes", {})
        keys = sorted(sizes, key=int)
        if not keys:
            continue
        L.append(f"## {backend}: the hot paths\n")
        bm = res.get("meta")
        if bm:
            L.append(f"Run {bm['started']} on commit `{bm['commit']}`, {bm['duration_s']} s per measurement, "
                     f"{bm['elapsed_s'] // 60} min in all; load average {bm['loadavg_before']} before, "
                     f"{bm['loadavg_after']} after (1, 5, 15 minutes; the benchmark itself raises it).\n")
        L.append("| measurement | " + " | ".join(f"{int(k):,} sessions" for k in keys) + " |")
        L.append("| --- | " + " | ".join("---" for _ in keys) + " |")

        def row(label, fn):
            cells = []
            for k in keys:
                try:
                    cells.append(fn(sizes[k]))
                except (KeyError, TypeError, ZeroDivisionError):
                    cells.append("–")
            L.append(f"| {label} | " + " | ".join(cells) + " |")

        def tp(key, unit="req/s"):
            def f(s):
                x = s["measurements"][key]
                ratio = f", ratio {x['ratio_to_healthz']:.2f}" if "ratio_to_healthz" in x else ""
                err = f", {x['errors']} errors" if x["errors"] else ""
                ex = ", pool ran out: lower bound" if x.get("pool_exhausted") else ""
                spread = (f" (median of {len(x['runs_rps'])} runs: {min(x['runs_rps']):,.0f}–{max(x['runs_rps']):,.0f})"
                          if len(x.get("runs_rps", [])) > 1 else "")
                return (f"{x['rps']:,.0f} {unit}{spread}, p50 {fmt_ms(x['p50_ms'])} / p99 {fmt_ms(x['p99_ms'])} ms{ratio}{err}{ex}")
            return f

        row("control: a bare axum hello (`server/examples/bare-hello.rs`), same machine, same run", tp("bare_axum"))
        row("`GET /healthz` (no database: the limit)", tp("healthz"))
        row("`/healthz` and the poll as shares of the bare hello (median of the runs' ratios)",
            lambda s: f"{s['measurements']['healthz']['ratio_to_bare']:.2f} and {s['measurements']['poll']['ratio_to_bare']:.2f}")
        row("poll `GET /api/session/status` (cookie)", tp("poll"))
        row("poll at half that load (paced)", tp("poll_half_load"))
        row("control: `/healthz` offered the same load (paced)", tp("healthz_half_load"))
        row("Manage Sessions page, 10 sessions, SSR", tp("sessions_page"))
        row("end one session (`DELETE /api/v1/sessions/{id}`)", tp("end_session"))
        row("login (`POST /api/v1/login`, 64 concurrent, distinct client addresses)", tp("login_storm", "logins/s"))
        row("logins with the right password refused as throttled (429)", lambda s: (
            f"{s['measurements']['login_storm']['refused_as_throttled']} of {s['measurements']['login_storm']['requests']:,}"))
        row("poll, paced, no logins", tp("poll_before_storm"))
        row("poll, same pacing, during the login storm", tp("poll_during_storm"))
        row("control: `/healthz`, paced, no logins", tp("healthz_before_storm"))
        row("control: `/healthz`, same pacing, during the login storm", tp("healthz_during_storm"))
        for c in SIGNUP_PARALLEL:
            if not any(f"signups{c}" in sizes[k]["measurements"] for k in keys):
                continue
            row(f"sign-ups, {c} at once, 256-character passwords (`POST /api/fn/signup`)", lambda s, c=c: (
                f"{s['measurements'][f'signups{c}']['created_per_s']:,.1f} accounts/s, p50 "
                f"{fmt_ms(s['measurements'][f'signups{c}']['p50_ms'])} / p99 {fmt_ms(s['measurements'][f'signups{c}']['p99_ms'])} ms"))
            row(f"poll, paced: before / during {c} sign-ups (p99)", lambda s, c=c: (
                f"{fmt_ms(s['measurements'][f'poll_before_signups{c}']['p99_ms'])} → "
                f"{fmt_ms(s['measurements'][f'poll_during_signups{c}']['p99_ms'])} ms "
                f"({ratio(s['measurements'][f'poll_during_signups{c}']['p99_ms'], s['measurements'][f'poll_before_signups{c}']['p99_ms'])}) "
                f"at {s['measurements'][f'poll_before_signups{c}']['rps']:,.0f} req/s"))
            row(f"control: `/healthz`, paced: before / during {c} sign-ups (p99)", lambda s, c=c: (
                f"{fmt_ms(s['measurements'][f'healthz_before_signups{c}']['p99_ms'])} → "
                f"{fmt_ms(s['measurements'][f'healthz_during_signups{c}']['p99_ms'])} ms "
                f"({ratio(s['measurements'][f'healthz_during_signups{c}']['p99_ms'], s['measurements'][f'healthz_before_signups{c}']['p99_ms'])}) "
                f"at {s['measurements'][f'healthz_before_signups{c}']['rps']:,.0f} req/s"))
        def variant(key, unit="req/s"):
            def f(s):
                x = s["storm_hash_concurrency"][key]
                return f"{x['rps']:,.0f} {unit}, p50 {fmt_ms(x['p50_ms'])} / p99 {fmt_ms(x['p99_ms'])} ms"
            return f
        if any("storm_hash_concurrency" in sizes[k] for k in keys):
            conc = next(sizes[k]["storm_hash_concurrency"]["hash_concurrency"] for k in keys if "storm_hash_concurrency" in sizes[k])
            row(f"with `--hash-concurrency {conc}` (every core hashing): login storm", variant("login_storm", "logins/s"))
            row(f"with `--hash-concurrency {conc}`: poll, paced, no logins", variant("poll_before_storm"))
            row(f"with `--hash-concurrency {conc}`: poll during the storm", variant("poll_during_storm"))
            row(f"with `--hash-concurrency {conc}`: `/healthz` during the storm", variant("healthz_during_storm"))
        for wp in WRITE_PATHS:
            if not any(wp in sizes[k].get("write_paths", {}).get("latency", {}) for k in keys):
                continue
            row(f"write `{wp}` in the store (from asking for the write turn to commit): p50 / p99 / max", lambda s, wp=wp: (
                f"{fmt_ms(s['write_paths']['latency'][wp].get('q0.5'))} / {fmt_ms(s['write_paths']['latency'][wp].get('q0.99'))} / "
                f"{fmt_ms(s['write_paths']['latency'][wp].get('q1'))} ms over {s['write_paths']['latency'][wp].get('count', 0):,} writes"))
        row("revocation → notice (p50 / p99 / max)", lambda s: (
            f"{fmt_ms(s['measurements']['revocation']['notice_p50_ms'])} / {fmt_ms(s['measurements']['revocation']['notice_p99_ms'])} / "
            f"{fmt_ms(s['measurements']['revocation']['notice_max_ms'])} ms over {s['measurements']['revocation']['trials']} trials, "
            f"first poll always saw it: {'yes' if s['measurements']['revocation']['polls_needed_max'] == 1 else 'no'}"))
        row("last-active writes: poll run / page loads", lambda s: (
            f"{s['measurements']['poll']['last_active_writes']} / {s['measurements']['sessions_page']['last_active_writes']}"))
        def rss(r):
            if r.get("anon_kib") is not None:
                return f"{r['rss_kib'] / 1024:.1f} (heap {r['anon_kib'] / 1024:.1f})"
            return f"{r['rss_kib'] / 1024:.1f}" + (f" ({r['file_kib'] / 1024:.1f} mapped files)" if r.get("file_kib") else "")
        row("server RSS, MiB: idle / after poll, page, end load / after the login storm (peak)", lambda s: (
            f"{rss(s['rss_idle'])} / {rss(s['rss_before_storm'])} / {rss(s['rss_after'])} "
            f"(peak {s['rss_after']['hwm_kib'] / 1024:.1f})"))
        row("database size", lambda s: f"{s['db_bytes'] / 1e6:,.1f} MB")
        row("other work on the machine meanwhile (average cores)", lambda s: (
            f"{s['other_cpu_cores']:.2f}" + (" — **disturbed**" if s["other_cpu_cores"] > DISTURBED_CORES else "")))
        row("seeding time", lambda s: f"{s['seed_s']} s")
        L.append("")
        any_size = sizes[keys[0]]["measurements"]["revocation"]
        L.append(f"Revocation to notice is measured from the moment the `204` of the `DELETE` arrives to the moment "
                 f"the ended session's own poll answers `ended`, polling that cookie in a tight loop. Every request "
                 f"reads the session from the database, so the first poll after the `204` already sees it. In a "
                 f"browser the page polls every {any_size['poll_interval_ms']:,} ms (`--poll-interval-ms`), so the "
                 f"notice appears after this delay plus up to one poll interval; a mail app is refused on its very "
                 f"next request.\n")
        def mib(r, key):
            return f"{r[key] / 1024:,.1f}" if r.get(key) is not None else "?"
        heaps = ", ".join(f"{mib(sizes[k]['rss_before_storm'], 'anon_kib')} MiB at {int(k):,}" for k in keys)
        big = sizes[keys[-1]]["rss_before_storm"]
        hash_threads = max(1, (results["meta"]["cpus"] or 1) - 1)
        L.append(f"Server memory: after the poll, page and end load the heap (RssAnon) was {heaps} sessions. VmRSS also "
                 f"counts mapped files and shared memory (at {int(keys[-1]):,} sessions: VmRSS {mib(big, 'rss_kib')} MiB, of it "
                 f"RssFile {mib(big, 'file_kib')} and RssShmem {mib(big, 'shmem_kib')} MiB): "
                 + ("the binary and the database pages the reader connections have mapped (mmap), which the OS page cache "
                    "owns and can drop at any time; on a tmpfs they count as shared memory. " if backend == "sqlite" else
                    "the binary and the libraries; PostgreSQL's memory is its own processes'. ")
                 + "The heap grows with the login storm: every argon2id verification "
                 f"allocates 19 MiB on a hashing thread (at most {hash_threads} at a time), and the allocator (mimalloc) keeps "
                 "freed blocks for reuse for a while before returning them to the system.\n")

    b = results.get("bundle")
    if b:
        L.append("## The WASM bundle\n")
        L.append("| file | raw | gzip -9 | brotli -q 11 | the login page loads it |")
        L.append("| --- | --- | --- | --- | --- |")
        for name, s in b["files"].items():
            L.append(f"| `{name}` | {fmt_kb(s['raw'])} | {fmt_kb(s['gzip'])} | {fmt_kb(s['brotli'])} | "
                     f"{'yes' if name in b['login_page_loads'] else 'no'} |")
        L.append(f"| **login page total** | {fmt_kb(b['login_total']['raw'])} | {fmt_kb(b['login_total']['gzip'])} | "
                 f"{fmt_kb(b['login_total']['brotli'])} | |")
        L.append(f"| **all routes, WASM** | {fmt_kb(b['all_routes_wasm']['raw'])} | {fmt_kb(b['all_routes_wasm']['gzip'])} | "
                 f"{fmt_kb(b['all_routes_wasm']['brotli'])} | |")
        L.append("")
        enc = b["served_content_encoding"]
        L.append("The WASM is the same for every page: the HTML of the login page names it (a module "
                 "preload and the hydration script), so *login page total* is what a phone downloads before "
                 "the login form becomes interactive.\n")
        L.append("KB = 1,000 bytes. " + (f"The server answers `Accept-Encoding: gzip, br` with `Content-Encoding: {enc}`." if enc else
                 "The server sends these files uncompressed (no `Content-Encoding` for `Accept-Encoding: gzip, br`): "
                 "the compressed sizes are what a compressing reverse proxy or CDN in front of it would send.") + "\n")
    return "\n".join(L)


# ---- main ----------------------------------------------------------------------------------------

def loadavg() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def git_commit() -> str:
    try:
        c = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "app", "server", "frontend", "migrations", "Cargo.toml", "Cargo.lock"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return c + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10^4 sessions only, 5 s per measurement")
    ap.add_argument("--smoke", action="store_true", help="check that the quick run completes: 1 s runs, results in bench/tmp")
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    ap.add_argument("--sizes", help="comma-separated session counts (default 10000,100000,1000000)")
    ap.add_argument("--duration", type=int, help="seconds per measurement (default 10, quick 5, smoke 1)")
    ap.add_argument("--port", type=int, help="default 3900, or a free one when 3900 is taken")
    ap.add_argument("--out", help="directory for results.md/results.json (default bench/)")
    ap.add_argument("--keep", action="store_true", help="keep the databases in bench/tmp")
    ap.add_argument("--work-dir", default=str(ROOT / "bench" / "tmp"),
                    help="where databases, logs and the server copy go (default bench/tmp; /dev/shm keeps them in memory)")
    ap.add_argument("--server", help="another server binary to measure (default target/release/server)")
    ap.add_argument("--merge", action="store_true",
                    help="keep the other backend's results already in the output's results.json")
    ap.add_argument("--render", action="store_true",
                    help="measure nothing: write results.md again from the output's results.json (after a change of the report)")
    ap.add_argument("--only", choices=["all", "hot", "push", "push-browser"], default="all",
                    help="hot: the hot paths (and the bundle) only; push: the event streams only (and their browser "
                         "part), merged into the output's results.json (its other results are kept); push-browser: "
                         "only the browser part of the push (Chromium), merged likewise")
    ap.add_argument("--no-site", action="store_true",
                    help="leave out what needs the site build: the WASM bundle and the push's browser part")
    ap.add_argument("--browser-trials", type=int, help=f"sessions ended, each timed to its browser's notice (default {BROWSER_TRIALS}; smoke 3)")
    ap.add_argument("--browser-idle", type=int, help=f"seconds an idle tab's requests are counted (default {BROWSER_IDLE_MS // 1000}; smoke 5)")
    ap.add_argument("--push-streams", type=int, help=f"idle event streams (default {PUSH_STREAMS:,}; smoke 50)")
    ap.add_argument("--push-trials", type=int, help=f"revocations timed to their `ended` event (default {PUSH_TRIALS:,}; smoke 20)")
    ap.add_argument("--push-idle", type=int, help=f"seconds the streams idle while the server's CPU is measured (default {PUSH_IDLE_S})")
    ap.add_argument("--repeats", type=int,
                    help="alternating runs of the bare hello, /healthz and the poll (default 3; --quick 1)")
    ap.add_argument("--port2", type=int, help="the second instance's port, on PostgreSQL (default: --port + 1, or a free one)")
    ap.add_argument("--command", default="scripts/bench.sh", help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.render:
        out_dir = Path(opts.out) if opts.out else ROOT / "bench"
        results = json.loads((out_dir / "results.json").read_text())
        results["targets"] = targets(results, opts)
        (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        (out_dir / "results.md").write_text(markdown(results))
        log(f"results: {out_dir / 'results.md'} written again from results.json")
        return 0

    if opts.server:
        global SERVER
        SERVER = Path(opts.server).resolve()
    if opts.smoke:
        opts.quick = True
    sizes = [int(s.replace("_", "")) for s in opts.sizes.split(",")] if opts.sizes else (
        [10_000] if opts.quick else [10_000, 100_000, 1_000_000])
    opts.duration = opts.duration or (1 if opts.smoke else 5 if opts.quick else 10)
    opts.warmup = 1 if opts.smoke else 2
    opts.calibrate = 1 if opts.smoke else 2
    opts.trials = 20 if opts.smoke else 200 if opts.quick else 1000
    opts.repeats = opts.repeats or (1 if opts.quick else 3)
    # Enough sessions to end that the DELETE run never runs out (checked: pool_exhausted).
    opts.end_pool = 15_000 * opts.duration
    opts.target_size = min(sizes, key=lambda s: abs(math.log10(s) - 5))
    opts.storm_variant = not opts.smoke
    opts.push_streams = opts.push_streams or (50 if opts.smoke else PUSH_STREAMS)
    opts.push_trials = opts.push_trials or (20 if opts.smoke else PUSH_TRIALS)
    opts.push_idle = opts.push_idle if opts.push_idle is not None else (1 if opts.smoke else PUSH_IDLE_S)
    opts.push_repeats = 1 if opts.smoke else PUSH_REPEATS
    opts.browser_trials = opts.browser_trials or (3 if opts.smoke else BROWSER_TRIALS)
    opts.browser_idle_ms = 1000 * opts.browser_idle if opts.browser_idle else (5_000 if opts.smoke else BROWSER_IDLE_MS)
    pushing = opts.only in ("all", "push")   # the event streams' part
    browsing = opts.only in ("all", "push", "push-browser")
    # One directory per run: databases, token files, server logs and the server copy.
    workdir = Path(opts.work_dir).resolve() / f"run-{os.getpid()}"
    workdir.mkdir(parents=True, exist_ok=True)
    RUN_DIRS.append(workdir)
    out_dir = Path(opts.out) if opts.out else (ROOT / "bench" / "tmp" / "smoke" if opts.smoke else ROOT / "bench")
    out_dir.mkdir(parents=True, exist_ok=True)

    wanted = [SERVER] + ([SEEDER] if opts.only != "push-browser" else []) + ([STREAMS] if pushing else [])
    if not all(p.exists() for p in wanted):
        print(f"the release build is missing ({', '.join(map(str, wanted))}): run scripts/bench.sh (it builds them)",
              file=sys.stderr)
        return 2
    # The bundle needs the site (cargo leptos build); without it everything else is still measured.
    has_site = (SITE / "pkg").is_dir() and opts.only in ("all", "hot") and not opts.no_site
    if has_site:
        wait_for_site()
    elif opts.only in ("all", "hot"):
        note(f"{'--no-site' if opts.no_site else f'no site build in {SITE}'}: the WASM bundle is not measured")
    browser_skip = browser_missing(opts) if browsing else None
    if browsing and browser_skip:
        note(f"{browser_skip}: the push's browser part (Chromium) is not measured")
    shutil.copy2(SERVER, workdir / SERVER_COPY_NAME)
    if SEEDER in wanted:
        shutil.copy2(SEEDER, workdir / SEEDER_COPY_NAME)
    if pushing:
        shutil.copy2(STREAMS, workdir / STREAMS_COPY_NAME)
    if opts.port is None:
        opts.port = 3900
        if not port_free(opts.port):
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                opts.port = sock.getsockname()[1]
            note(f"port 3900 is taken: using {opts.port}")
    elif not port_free(opts.port):
        print(f"port {opts.port} is in use: pass another --port", file=sys.stderr)
        return 2
    if opts.port2 is None:
        opts.port2 = opts.port + 1
        if not port_free(opts.port2):
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                opts.port2 = sock.getsockname()[1]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))

    backends = ["sqlite", "postgres"] if opts.backend == "both" else [opts.backend]
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines()[0].split(" [")[0]
    with open("/proc/meminfo") as f:
        mem_gib = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
    results = {
        "meta": {
            "command": opts.command,
            "started": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": git_commit(),
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model,
            "mem_gib": mem_gib,
            "loadavg_before": loadavg(),
            "wrk": wrk_version,
            "duration_s": opts.duration,
            "sizes": sizes,
            "poll_interval_ms": int(os.environ.get("POSTERN_POLL_INTERVAL_MS", "5000")),
            "quick": opts.quick,
            "smoke": opts.smoke,
            "work_dir": opts.work_dir,
            "server_built": dt.datetime.fromtimestamp(SERVER.stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "site_built": (dt.datetime.fromtimestamp((SITE / "pkg").stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
                           if has_site else None),
            "signup_limit_per_hour": SIGNUP_LIMIT,
            "work_dir_fs": subprocess.run(["stat", "-f", "-c", "%T", opts.work_dir], capture_output=True, text=True).stdout.strip(),
        },
        "backends": {},
    }
    t_start = time.time()
    try:
        if has_site:
            log("the WASM bundle")
            results["bundle"] = bundle(opts.port, workdir)
            b = results["bundle"]
            note(f"login page loads {', '.join(b['login_page_loads'])}: {fmt_kb(b['login_total']['raw'])} raw, "
                 f"{fmt_kb(b['login_total']['gzip'])} gzip, {fmt_kb(b['login_total']['brotli'])} brotli")
        for backend in backends:
            t0 = time.time()
            meta = {"started": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                    "commit": git_commit(), "loadavg_before": loadavg(), "sizes": sizes,
                    "duration_s": opts.duration}
            results["backends"][backend] = {"meta": meta, "sizes": {}}
            if opts.only in ("all", "hot"):
                for n in sizes:
                    results["backends"][backend]["sizes"][str(n)] = run_size(backend, n, opts, workdir)
            meta["loadavg_after"] = loadavg()
            meta["elapsed_s"] = round(time.time() - t0)
            if pushing:
                results["backends"][backend]["push"] = run_push(backend, opts, workdir)
            if browsing and backend == "sqlite":
                push = results["backends"][backend].setdefault("push", {})
                if browser_skip:
                    push["browser_skipped"] = browser_skip
                else:
                    push["browser"] = run_push_browser(opts, workdir)
                    push["browser"]["smoke"] = opts.smoke
            elif browsing:
                note(f"{backend}: the push's browser part runs on SQLite only")
    finally:
        stop_all()
    results["meta"]["elapsed_s"] = round(time.time() - t_start)
    if opts.only in ("push", "push-browser") and (out_dir / "results.json").exists():
        # Only the push (or its browser part) was measured: everything else stays as the earlier run left it.
        old = json.loads((out_dir / "results.json").read_text())
        for backend in backends:
            new_push = results["backends"][backend].get("push") or {}
            slot = old.setdefault("backends", {}).setdefault(backend, {"meta": results["backends"][backend]["meta"], "sizes": {}})
            if opts.only == "push":
                slot["push"] = new_push
            elif "browser" in new_push:
                slot.setdefault("push", {})["browser"] = new_push["browser"]
                slot["push"].pop("browser_skipped", None)
        old["meta"]["elapsed_s"] = old["meta"].get("elapsed_s", results["meta"]["elapsed_s"])
        results = old
        note(f"push results merged into {out_dir / 'results.json'} (its other results are kept)")
    if opts.merge and (out_dir / "results.json").exists():
        # Keep the other backend's results from an earlier run (each says when and on what).
        old = json.loads((out_dir / "results.json").read_text())
        for backend, res in old.get("backends", {}).items():
            if backend not in results["backends"] and "meta" in res:
                results["backends"][backend] = res
                note(f"kept the {backend} results of {res['meta']['started']} from {out_dir / 'results.json'}")
    results["targets"] = targets(results, opts)

    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "results.md").write_text(markdown(results))
    log(f"results: {out_dir / 'results.md'} and results.json ({results['meta']['elapsed_s']} s)")
    for t in results["targets"]:
        verdict = "not measured" if t["met"] is None else ("met" if t["met"] else "MISSED")
        print(f"    {verdict:>12}  {t['target']} [{t['backend']}]: {t['measured']}")
    # Not speed thresholds: a run in which requests failed measured something else.
    problems = []
    for backend, res in results["backends"].items():
        for n, r in res.get("sizes", {}).items():
            checks = dict(r["measurements"])
            for k, v in r.get("storm_hash_concurrency", {}).items():
                if isinstance(v, dict):
                    checks[f"hash_concurrency_{k}"] = v
            for k, v in checks.items():
                if k.endswith("login_storm") and v.get("refused_as_throttled"):
                    print(f"    NOTE {backend} {n}: {v['refused_as_throttled']} of {v['requests']} logins with the right "
                          f"password were refused as throttled (429)", file=sys.stderr)
                    if v["errors"] == v["refused_as_throttled"]:
                        continue
                if v.get("errors"):
                    problems.append(f"{backend} {n} {k}: {v['errors']} failed requests {v['error_detail']}")
                if v.get("failures"):
                    problems.append(f"{backend} {n} {k}: {v['failures']} failed trials")
                if v.get("requests") == 0:
                    problems.append(f"{backend} {n} {k}: no request completed")
                if k.startswith("signups") and v.get("not_created"):
                    problems.append(f"{backend} {n} {k}: sign-ups that created no account {v['not_created']}")
        p = res.get("push")
        b = (p or {}).get("browser")
        if b and browsing and backend in backends:
            if b["trials"] < opts.browser_trials:
                problems.append(f"{backend} push in the browser: {b['trials']} of {opts.browser_trials} trials")
            if b["idle_streams_open"] != 1:
                problems.append(f"{backend} push in the browser: {b['idle_streams_open']} streams open in the idle tab, not 1")
        if p and pushing and backend in backends and "rounds" in p:
            if p["stream_failures"] or p["streams_lost"]:
                problems.append(f"{backend} push: {p['stream_failures']} streams failed to open, {p['streams_lost']} lost")
            if p["revocation"]["failures"] or not p["revocation"]["trials"]:
                problems.append(f"{backend} push: {p['revocation']['failures']} failed revocation trials "
                                f"{p['revocation']['failure_examples']}")
            for k in ("poll_without", "poll_with", "page_without", "page_with"):
                if p[k].get("errors"):
                    problems.append(f"{backend} push {k}: {p[k]['errors']} failed requests {p[k]['error_detail']}")
    for p in problems:
        print(f"    PROBLEM {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        stop_all()
        for run_dir in RUN_DIRS:
            if run_dir.is_dir() and "--keep" not in sys.argv:
                shutil.rmtree(run_dir, ignore_errors=True)
