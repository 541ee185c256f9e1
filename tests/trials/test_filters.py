"""List filters of the trials API: each filter narrows what the selector scoped; a bad value is 400.

Every value the filters cannot read (a non-integer id, a flag that is neither 1/true nor
0/false, a site number that is not one of the caller's sites in that trial) answers 400 with
the parameter named, instead of an empty or a wider list.
"""
from __future__ import annotations

import pytest

from trials import services
from trials.models import Membership, TimepointDefinition

pytestmark = pytest.mark.django_db


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def bad(response, parameter: str) -> str:
    assert response.status_code == 400, response.content
    body = response.json()
    assert parameter in body, body
    return " ".join(body[parameter])


@pytest.mark.parametrize("url,parameter", [
    ("/api/visits/?participant=abc", "participant"),
    ("/api/visits/?participant=1.5", "participant"),
    ("/api/visits/?trial=TRIAL-A&site=999", "site"),
    ("/api/participants/?trial=TRIAL-A&site=999", "site"),
    ("/api/participants/?site=999", "site"),
    ("/api/memberships/?include_ended=yes", "include_ended"),
])
def test_a_bad_filter_value_answers_400_naming_the_parameter(world, api, url, parameter):
    assert bad(api(world.admin).get(url), parameter)


def test_an_unknown_site_says_which_site_and_trial(world, api):
    message = bad(api(world.admin).get("/api/participants/?trial=TRIAL-A&site=999"), "site")
    assert "999" in message and "TRIAL-A" in message


def test_a_site_of_another_trial_is_unknown_in_this_one(world, api):
    # Site 201 exists, in trial B: in trial A it is no site at all.
    bad(api(world.admin_b).get("/api/participants/?trial=TRIAL-A&site=201"), "site")
    assert ids(api(world.admin_b).get("/api/participants/?trial=TRIAL-B&site=201")) == {world.participant_b.pk}


def test_a_site_the_caller_may_not_see_reads_like_one_that_does_not_exist(world, api):
    other = api(world.coordinator).get("/api/participants/?trial=TRIAL-A&site=102")
    missing = api(world.coordinator).get("/api/participants/?trial=TRIAL-A&site=999")
    assert other.status_code == missing.status_code == 400
    assert bad(other, "site").replace("102", "N") == bad(missing, "site").replace("999", "N")


def test_the_site_filter_narrows_within_the_callers_scope(world, api):
    assert ids(api(world.admin).get("/api/participants/?trial=TRIAL-A&site=102")) == {world.other_participant.pk}
    assert ids(api(world.coordinator).get("/api/participants/?site=101")) == {world.participant.pk}
    visits = ids(api(world.admin).get("/api/visits/?trial=TRIAL-A&site=101"))
    assert visits and visits == ids(api(world.admin).get(f"/api/visits/?participant={world.participant.pk}"))


def test_an_unknown_trial_code_is_an_empty_list(world, api):
    # A trial code is not checked: an unknown one, or one the caller may not see, lists nothing.
    assert ids(api(world.admin).get("/api/sites/?trial=NOPE")) == set()
    assert ids(api(world.admin).get("/api/participants/?trial=TRIAL-B")) == set()


def test_another_users_participant_id_lists_nothing(world, api):
    # The filter only narrows the caller's own visits; it never reaches another trial's.
    assert ids(api(world.admin).get(f"/api/visits/?participant={world.participant_b.pk}")) == set()


def test_memberships_hide_ended_ones_unless_asked(world, api):
    membership = Membership.objects.get(user=world.sponsor, trial=world.trial)
    services.membership_remove(actor=world.admin, membership=membership, reason="contract ended")
    client = api(world.admin)
    assert membership.pk not in ids(client.get("/api/memberships/?trial=TRIAL-A"))
    assert membership.pk not in ids(client.get("/api/memberships/?trial=TRIAL-A&include_ended=0"))
    assert membership.pk in ids(client.get("/api/memberships/?trial=TRIAL-A&include_ended=1"))
    assert membership.pk in ids(client.get("/api/memberships/?trial=TRIAL-A&include_ended=true"))
    # One membership is reached by id whether it ended or not.
    assert client.get(f"/api/memberships/{membership.pk}/").status_code == 200


def test_timepoints_and_requirements_filter_by_trial(world, api):
    client = api(world.admin_b)  # admin of trial B only: trial A's rows are outside the scope
    assert ids(client.get("/api/timepoints/?trial=TRIAL-B")) == {
        t.pk for t in TimepointDefinition.objects.filter(trial=world.other_trial)}
    assert ids(client.get("/api/timepoints/?trial=TRIAL-A")) == set()
    assert client.get("/api/imaging-requirements/?trial=TRIAL-B").status_code == 200
    assert ids(client.get("/api/imaging-requirements/?trial=TRIAL-A")) == set()


def test_a_bad_filter_is_checked_after_authentication(world, api):
    assert api(None).get("/api/visits/?participant=abc").status_code == 401
