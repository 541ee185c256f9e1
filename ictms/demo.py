"""The demo trial DEMO-ONC-301, built through the same services users call (so it is audited)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction

from trials import services
from trials.choices import ContrastRule, Modality, ParticipantStatus, Role, VisitState
from trials.models import Participant, Site, TimepointDefinition, Trial

User = get_user_model()

TRIAL_CODE = "DEMO-ONC-301"

# (username, first, last, role, site number)
USERS = [
    ("admin", "Ada", "Admin", Role.TRIAL_ADMIN, None),
    ("coordinator1", "Clara", "Hoffmann", Role.SITE_COORDINATOR, "101"),
    ("coordinator2", "Camille", "Durand", Role.SITE_COORDINATOR, "102"),
    ("coordinator3", "Chris", "Miller", Role.SITE_COORDINATOR, "103"),
    ("qc", "Quinn", "Checker", Role.QC_ANALYST, None),
    ("reader1", "Rita", "Reader", Role.READER, None),
    ("reader2", "Rob", "Reader", Role.READER, None),
    ("adjudicator", "Alex", "Adjudicator", Role.ADJUDICATOR, None),
    ("sponsor", "Sam", "Sponsor", Role.SPONSOR, None),
    ("auditor", "Audrey", "Auditor", Role.AUDITOR, None),
]

SITES = [
    ("101", "Nordklinik Hamburg", "DE", "NORDKLINIK_CT"),
    ("102", "Hôpital Saint-Louis Lyon", "FR", "HSL_LYON_PACS"),
    ("103", "Boston Oncology Center", "US", "BOC_PACS"),
]

# (code, label, order, nominal day, window −, window +, baseline, required)
SCHEDULE = [
    ("SCR", "Screening/Baseline", 1, 0, 28, 0, True, True),
    ("W8", "Week 8", 2, 56, 7, 7, False, True),
    ("W16", "Week 16", 3, 112, 7, 7, False, True),
    ("W24", "Week 24", 4, 168, 7, 7, False, True),
    ("EOT", "End of treatment", 5, None, 0, 0, False, False),
]


@dataclass(frozen=True)
class DemoParticipant:
    subject_code: str
    start_offset: int | None  # treatment start relative to today (days); None: not yet known
    states: dict[str, str]  # timepoint code -> received / in_qc / accepted
    status: str = ParticipantStatus.ENROLLED


R, Q, A = VisitState.RECEIVED, VisitState.IN_QC, VisitState.ACCEPTED
PARTICIPANTS = [
    DemoParticipant("101-001", -200, {"SCR": A, "W8": A, "W16": A, "W24": R}),
    DemoParticipant("101-002", -120, {"SCR": A, "W8": A}),  # W16 overdue
    DemoParticipant("101-003", -60, {"SCR": A}),  # W8 due
    DemoParticipant("101-004", 10, {}),  # screening window open: due
    DemoParticipant("101-005", -30, {"SCR": Q}),  # W8 upcoming
    DemoParticipant("102-001", -170, {"SCR": A, "W8": A, "W16": Q}),  # W24 due
    DemoParticipant("102-002", -90, {"SCR": A}),  # W8 overdue
    DemoParticipant("102-003", -14, {"SCR": R}),
    DemoParticipant("102-004", None, {}, ParticipantStatus.SCREENING),  # no treatment start: not scheduled
    DemoParticipant("103-001", -250, {"SCR": A, "W8": A, "W16": A, "W24": A, "EOT": R}),
    DemoParticipant("103-002", -100, {"SCR": A, "W8": A}),  # W16 upcoming
    DemoParticipant("103-003", 40, {}, ParticipantStatus.SCREENING),  # screening upcoming
]


class DemoRefused(Exception):
    pass


def image_plan() -> list:
    """Which visits get images and how far QC has got with them (ictms.demo_images uploads them)."""
    from ictms.demo_images import DemoImages

    plan = [DemoImages(p.subject_code, code, state) for p in PARTICIPANTS for code, state in p.states.items()]
    # One site sent thick slices: automated QC opens a query that the demo site can answer.
    return [DemoImages(i.subject_code, i.timepoint, i.target_state, 7.0) if (i.subject_code, i.timepoint) == ("102-003", "SCR")
            else i for i in plan]


def seed_demo(*, force: bool = False, images: bool = True, log: Callable[[str], None] = print,
              today: dt.date | None = None) -> Trial:
    """Create (or complete) the demo trial. Idempotent: existing objects are left as they are."""
    if not settings.DEV_MODE and not force:
        raise DemoRefused(
            "Refusing to create demo users with a published password while DEBUG is off. Use --force if you mean it."
        )
    today = today or dt.date.today()
    with transaction.atomic():
        users = _users(log)
        admin = users["admin"]
        trial = Trial.objects.filter(code=TRIAL_CODE).first()
        if trial is None:
            trial = services.trial_create(
                actor=admin, code=TRIAL_CODE, title="A phase III study of an investigational drug in metastatic NSCLC",
                sponsor_name="Demo Pharma AG", indication="Non-small cell lung cancer",
            )
            log(f"Created trial {trial.code}")
        sites = _sites(admin, trial)
        _schedule(admin, trial)
        _members(admin, trial, users, sites)
        _read_design(admin, trial, log)
        if trial.status == "setup":
            services.trial_status_change(actor=admin, trial=trial, status="active", reason="Demo: set-up finished")
        _participants(users, trial, sites, today, log)
    if images:
        from ictms.demo_images import seed_demo_images
        from ictms.demo_reads import seed_demo_reads

        seed_demo_images(trial=trial, users=users, plan=image_plan(), log=log)
        seed_demo_reads(trial=trial, log=log)
    return trial


def _users(log: Callable[[str], None]) -> dict[str, object]:
    users = {}
    add_trial = Permission.objects.get(codename="add_trial", content_type__app_label="trials")
    for username, first, last, _role, _site in USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, first_name=first, last_name=last, email=f"{username}@demo.ictms.invalid")
            user.set_password(settings.ICTMS_DEMO_PASSWORD)
            user.save()
            log(f"Created user {username}")
        users[username] = user
    users["admin"].user_permissions.add(add_trial)
    return users


def _sites(admin: object, trial: Trial) -> dict[str, Site]:
    sites = {}
    for number, name, country, ae in SITES:
        site = Site.objects.filter(trial=trial, number=number).first()
        if site is None:
            site = services.site_create(actor=admin, trial=trial, number=number, name=name, country=country, ae_title=ae)
        sites[number] = site
    return sites


def _schedule(admin: object, trial: Trial) -> None:
    for code, label, order, day, before, after, baseline, required in SCHEDULE:
        tp = TimepointDefinition.objects.filter(trial=trial, code=code).first()
        if tp is None:
            tp = services.timepoint_create(
                actor=admin, trial=trial, code=code, label=label, order=order, nominal_day=day, window_before=before,
                window_after=after, is_baseline=baseline, required=required,
            )
        if not tp.imaging_requirements.exists():
            services.imaging_requirement_create(
                actor=admin, timepoint=tp, modality=Modality.CT, body_region="Chest/abdomen/pelvis",
                contrast=ContrastRule.REQUIRED, max_slice_thickness_mm=5, min_slices=20,
                other_rules="Portal venous phase; same scanner and protocol as baseline where possible.",
            )


def _members(admin: object, trial: Trial, users: dict, sites: dict[str, Site]) -> None:
    for username, _first, _last, role, site_number in USERS:
        user = users[username]
        if user.memberships.filter(trial=trial, is_active=True).exists():
            continue
        # The demo accounts exist already: each gets an invitation and accepts it, as a real person would.
        outcome = services.membership_invite(
            actor=admin, trial=trial, email=user.email, role=role, site=sites[site_number] if site_number else None,
        )
        if outcome.invitation is not None:
            services.invitation_accept(actor=user, invitation=outcome.invitation)


def _read_design(admin: object, trial: Trial, log: Callable[[str], None]) -> None:
    """A double read (reader1, reader2, adjudicator): cases open as QC accepts the baselines."""
    from reads.models import ReadDesign
    from reads.services import read_design_save

    if ReadDesign.objects.filter(trial=trial).exists():
        return
    read_design_save(actor=admin, trial=trial, paradigm="double", readers=["reader1", "reader2"],
                     adjudicators=["adjudicator"])
    log("Read design: double read by reader1 and reader2, adjudicated by adjudicator")


def _participants(users: dict, trial: Trial, sites: dict[str, Site], today: dt.date, log: Callable[[str], None]) -> None:
    coordinators = {"101": users["coordinator1"], "102": users["coordinator2"], "103": users["coordinator3"]}
    for i, demo in enumerate(PARTICIPANTS):
        if Participant.objects.filter(trial=trial, subject_code=demo.subject_code).exists():
            continue
        site_number = demo.subject_code.split("-")[0]
        coordinator = coordinators[site_number]
        start = today + dt.timedelta(days=demo.start_offset) if demo.start_offset is not None else None
        services.participant_enrol(
            actor=coordinator, site=sites[site_number], subject_code=demo.subject_code, status=demo.status,
            consent_date=(start or today) - dt.timedelta(days=21), treatment_start_date=start,
            arm="A: investigational drug" if i % 2 == 0 else "B: standard of care",
        )
        log(f"Enrolled {demo.subject_code}")
