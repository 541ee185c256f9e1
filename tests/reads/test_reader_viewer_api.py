"""The viewer API serves a reader the series of their own open tasks' visits (?visit=), and nothing else."""
from __future__ import annotations

import pytest

from reads.models import ReadTask
from tests.imaging.factories import make_series
from tests.reads.factories import accept, double_read
from tests.trials import factories as f

pytestmark = pytest.mark.django_db


def test_a_reader_lists_the_series_of_an_open_task_but_not_of_a_waiting_one(world, api):
    double_read(world)
    baseline, week8 = f.visit(world.participant, "BL"), f.visit(world.participant, "W8")
    series = make_series(baseline, n=1)
    make_series(week8, n=1)
    accept(baseline, actor=world.qc)
    accept(week8, actor=world.qc)
    assert ReadTask.objects.get(assignment__reader=world.reader, visit=week8).state == "waiting"
    response = api(world.reader).get(f"/api/series/?visit={baseline.pk}")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [series.pk]
    assert api(world.reader).get(f"/api/series/?visit={week8.pk}").status_code == 404
    assert api(world.adjudicator).get(f"/api/series/?visit={baseline.pk}").status_code == 404
    other = f.visit(world.other_participant, "BL")
    assert api(world.reader).get(f"/api/series/?visit={other.pk}").status_code == 404
