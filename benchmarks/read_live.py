"""The reading panel's live result for a case of 10 lesions and 8 follow-ups (issue 11).

    .venv/bin/python benchmarks/read_live.py [--repeats 30]

A throwaway test database (SQLite in memory unless DATABASE_URL is set) gets a trial whose
schedule has a baseline and 8 follow-ups, one participant with a small CT series per visit, a
single read, and a reader who has entered 5 targets and 5 non-targets at baseline and signed every
follow-up but the last, whose entries are complete but unsigned. Timed, round-robin after warm-up
(median and 90th percentile, ms):

- **task GET**: `GET /api/read-tasks/{id}/` through Django's test client (a logged-in reader),
  everything the panel redraws after a change: authentication, scoping, the read loaded from the
  database, the engine run over all timepoints, missing entries, serialization;
- **live only**: `reads.reading.task_result` (load the read + the engine), the server part of it;
- **engine peer**: `assess_participant` alone on the same baseline and follow-ups as dataclasses,
  what any implementation must pay; the ratios show what the database and the API add.

Target (issue 11): the live result under 100 ms server time.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ictms.settings")


def build() -> dict:
    from django.db import connection
    from django.test.utils import override_settings, setup_test_environment

    setup_test_environment()
    storage = Path(tempfile.mkdtemp(prefix="ictms-read-live-bench-"))
    override_settings(
        MEDIA_ROOT=storage,
        STORAGES={"default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": storage}},
                  "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}},
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    ).enable()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)

    from reads import reading
    from reads.models import ReadTask
    from reads.services import read_design_save
    from tests.imaging.factories import make_series
    from tests.reads.factories import accept, measure
    from tests.trials import factories as f
    from trials.choices import Role
    from trials.models import TimepointDefinition, Visit

    trial = f.TrialFactory(code="BENCH")
    site = f.SiteFactory(trial=trial, number="101")
    TimepointDefinition.objects.create(trial=trial, code="BL", label="Baseline", order=0, nominal_day=0,
                                       is_baseline=True)
    for week in range(1, 9):
        TimepointDefinition.objects.create(trial=trial, code=f"W{8 * week}", label=f"Week {8 * week}", order=week,
                                           nominal_day=56 * week)
    coordinator = f.member(trial, Role.SITE_COORDINATOR, site=site, username="bench-site")
    reader = f.member(trial, Role.READER, username="bench-reader")
    admin = f.member(trial, Role.TRIAL_ADMIN, username="bench-admin")
    participant = f.participant(coordinator, site, "101-001", treatment_start=dt.date(2026, 1, 1))
    read_design_save(actor=admin, trial=trial, paradigm="single", readers=["bench-reader"], adjudicators=[])
    for i, visit in enumerate(Visit.objects.filter(participant=participant).order_by("timepoint__order")):
        visit.scan_date = dt.date(2026, 1, 1) + dt.timedelta(days=56 * i)
        visit.save()
        make_series(visit, n=2, rows=128, columns=128)
        accept(visit)
    tasks = list(ReadTask.objects.filter(assignment__reader=reader).order_by("sequence"))
    baseline = tasks[0]
    organs = ("lung", "liver", "kidney", "spleen", "bone")
    targets = [reading.lesion_add(actor=reader, task=baseline, kind="target", organ=o,
                                  measurement=measure(reader, baseline.visit, 40 + 4 * i)) for i, o in enumerate(organs)]
    non_targets = [reading.lesion_add(actor=reader, task=baseline, kind="non_target", organ=o)
                   for o in ("pleura", "peritoneum", "brain", "adrenal gland", "skin")]
    reading.read_task_sign(actor=reader, task=baseline, password=f.PASSWORD)
    for k, task in enumerate(tasks[1:], start=1):
        for i, lesion in enumerate(targets):
            reading.observation_record(actor=reader, task=task, lesion=lesion,
                                       measurement=measure(reader, task.visit, 40 + 4 * i - k))
        for lesion in non_targets:
            reading.observation_record(actor=reader, task=task, lesion=lesion, status="present")
        reading.new_lesions_none_set(actor=reader, task=task)
        if k < len(tasks) - 1:
            reading.read_task_sign(actor=reader, task=task, password=f.PASSWORD)
    return {"reader": reader, "task": tasks[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    import django

    django.setup()
    state = build()
    from django.test import Client

    from reads import live, reading

    client = Client()
    client.force_login(state["reader"], backend="django.contrib.auth.backends.ModelBackend")
    task = state["task"]
    url = f"/api/read-tasks/{task.pk}/"
    read = live.load_read(task.assignment)
    config = live.recist_config(None)
    baseline = live._baseline(read)
    followups = [live._followup(read, t) for t in read.tasks[1:]]
    from reads.recist import assess_participant

    def task_get() -> None:
        response = client.get(url)
        assert response.status_code == 200, response.content[:200]

    def live_only() -> None:
        reading.task_result(task=task)

    def engine() -> None:
        assess_participant(baseline, followups, config)

    contenders = {"task GET": task_get, "live only": live_only, "engine peer": engine}
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(3):
        for call in contenders.values():
            call()
    for _ in range(args.repeats):
        for name, call in contenders.items():
            start = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - start) * 1000)
    detail = client.get(url).json()
    print(f"case: {len(read.lesions)} lesions, {len(read.tasks) - 1} follow-ups; live overall "
          f"{detail['response']['overall']}, sum {detail['response']['sum_mm']} mm")
    peer = statistics.median(times["engine peer"])
    for name, values in times.items():
        values.sort()
        median, p90 = statistics.median(values), values[int(0.9 * (len(values) - 1))]
        print(f"{name:12s} median {median:7.2f} ms   p90 {p90:7.2f} ms   x{median / peer:6.1f} engine")
    print("target: live result under 100 ms server time:",
          "met" if statistics.median(times["task GET"]) < 100 else "MISSED")


if __name__ == "__main__":
    main()
