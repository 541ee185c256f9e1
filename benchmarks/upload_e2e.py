"""End-to-end upload throughput: the HTTP API into a running server with real Celery workers,
against the `manage.py deidentify` command on the same series, in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/12 \\
        .venv/bin/python benchmarks/upload_e2e.py [--slices 400] [--size 512] [--batch 20] [--clients 4]

It creates a throwaway PostgreSQL database, migrates it, makes a trial, a site coordinator with an
API token and a participant, starts gunicorn and a Celery worker (one process per core), then:

1. times `manage.py deidentify IN OUT --trial CODE` as a whole command (start-up included);
2. times a site's script: open a submission, POST the files in multipart batches from a few
   parallel clients, complete, and wait until the submission is done (every file de-identified,
   stored and recorded, audit events written).

It prints files/s for both and the ratio (target: upload >= 0.5x the command). Without
DATABASE_URL on PostgreSQL and REDIS_URL it explains what is missing and exits 0.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_db(url: str, name: str) -> str:
    parts = urlparse(url)
    return urlunparse(parts._replace(path="/" + name))


def run(args: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True, text=True, **kw)


SETUP = """
import datetime as dt, json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from tests.trials import factories as f
from trials.choices import Role
trial = f.TrialFactory(code="BENCH-1")
site = f.SiteFactory(trial=trial, number="101")
f.schedule(trial)
user = f.member(trial, Role.SITE_COORDINATOR, site=site, username="bench")
p = f.participant(user, site, "101-001", treatment_start=dt.date.today() - dt.timedelta(days=5))
visit = f.visit(p, "BL")
print(json.dumps({"token": Token.objects.create(user=user).key, "visit": visit.pk}))
"""


def multipart(files: list[Path]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    chunks = []
    for path in files:
        chunks.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{path.name}\"\r\n"
                      f"Content-Type: application/dicom\r\n\r\n".encode())
        chunks.append(path.read_bytes())
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def api(base: str, token: str, method: str, path: str, body: bytes | None = None, ctype: str = "application/json") -> dict:
    request = urllib.request.Request(base + path, data=body, method=method,
                                     headers={"Authorization": f"Token {token}", "Content-Type": ctype})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read() or b"{}")


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except Exception:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=400)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--batch", type=int, default=20, help="files per multipart request")
    parser.add_argument("--clients", type=int, default=4, help="parallel upload connections")
    args = parser.parse_args()
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith("postgres") or not redis_url:
        print("upload_e2e: needs DATABASE_URL (PostgreSQL) and REDIS_URL; skipped.")
        return 0

    from tests.imaging import synthetic

    work = Path(tempfile.mkdtemp(prefix="ictms-e2e-"))
    db_name = f"ictms_bench_{os.getpid()}"
    admin_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ictms.settings"}
    run(["psql", with_db(database_url, "postgres"), "-qc", f"CREATE DATABASE {db_name}"], admin_env)
    env = {**admin_env, "DATABASE_URL": with_db(database_url, db_name), "ICTMS_VAR_DIR": str(work / "var"),
           "CELERY_QUEUE": f"bench-{os.getpid()}", "DEBUG": "1", "LOG_LEVEL": "WARNING"}
    procs: list[subprocess.Popen] = []
    try:
        print(f"generating {args.slices} slices of {args.size}x{args.size} with fake PHI ...", flush=True)
        series = work / "in"
        synthetic.write_ct_series(series, args.slices, rows=args.size, cols=args.size, phi=True)
        files = sorted(p for p in series.rglob("*") if p.is_file())
        megabytes = sum(p.stat().st_size for p in files) / 2**20
        run([PY, "manage.py", "migrate", "-v0"], env)
        ids = json.loads(run([PY, "manage.py", "shell", "-c", SETUP], env).stdout.strip().splitlines()[-1])

        started = time.perf_counter()
        run([PY, "manage.py", "deidentify", str(series), str(work / "out"), "--trial", "BENCH-1", "--quiet"], env)
        command_s = time.perf_counter() - started

        port = free_port()
        procs.append(subprocess.Popen([PY, "-m", "gunicorn", "ictms.wsgi:application", "-b", f"127.0.0.1:{port}",
                                       "--workers", "2", "--threads", "4", "--timeout", "600"],
                                      cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True))
        procs.append(subprocess.Popen([PY, "-m", "celery", "-A", "ictms", "worker", "-Q", env["CELERY_QUEUE"],
                                       "--concurrency", str(os.cpu_count() or 2), "--loglevel", "WARNING",
                                       "--without-gossip", "--without-mingle", "--without-heartbeat"],
                                      cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True))
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/accounts/login/")
        token = ids["token"]

        started = time.perf_counter()
        submission = api(base, token, "POST", "/api/submissions/", json.dumps({"visit": ids["visit"]}).encode())
        batches = [files[i:i + args.batch] for i in range(0, len(files), args.batch)]

        def send(batch: list[Path]) -> int:
            body, ctype = multipart(batch)
            return len(api(base, token, "POST", f"/api/submissions/{submission['id']}/files/", body, ctype))

        with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
            sent = sum(pool.map(send, batches))
        posted_s = time.perf_counter() - started
        api(base, token, "POST", f"/api/submissions/{submission['id']}/complete/")
        while True:
            state = api(base, token, "GET", f"/api/submissions/{submission['id']}/")
            if state["state"] in ("done", "failed"):
                break
            time.sleep(0.2)
        upload_s = time.perf_counter() - started
        assert sent == len(files), (sent, len(files))
        counts = state["counts"]
        print(f"\nseries: {len(files)} files, {megabytes:.0f} MB; {os.cpu_count()} cores")
        print(f"{'deidentify command':<28} {len(files) / command_s:8.1f} files/s  {megabytes / command_s:7.1f} MB/s  ({command_s:.2f} s)")
        print(f"{'HTTP API + real worker':<28} {len(files) / upload_s:8.1f} files/s  {megabytes / upload_s:7.1f} MB/s  ({upload_s:.2f} s)")
        print(f"  (files all sent after {posted_s:.2f} s; the rest is the workers finishing)")
        print(f"ratio upload / command: {command_s / upload_s:.2f}x  (target >= 0.5x); "
              f"result: {counts['deidentified']} de-identified, {counts['rejected']} rejected, state {state['state']}")
        return 0
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
            except Exception:
                os.killpg(proc.pid, signal.SIGKILL)
        subprocess.run(["psql", with_db(database_url, "postgres"), "-qc", f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"],
                       env=admin_env, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
