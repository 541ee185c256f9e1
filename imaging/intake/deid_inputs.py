"""The bridge from a trial / participant / visit to the pure de-identification engine's context."""
from __future__ import annotations

from dataclasses import dataclass, field

from imaging.deid import (
    DeidContext,
    DeidOptions,
    PrivateTagRule,
    participant_date_offset,
)
from trials.models import Participant, Trial, Visit


def deid_options(trial: Trial) -> DeidOptions:
    rules = []
    for item in trial.deid_private_tag_safe_list or []:
        rules.append(PrivateTagRule(creator=str(item["creator"]), group=int(str(item["group"]), 16),
                                    element_offset=int(str(item["element"]), 16)))
    return DeidOptions(
        retain_device_identity=trial.deid_retain_device_identity and not trial.blind_readers,
        retain_patient_characteristics=trial.deid_retain_patient_characteristics,
        retain_modified_dates=trial.deid_retain_modified_dates,
        clean_descriptors=trial.deid_clean_descriptors,
        safe_private_tags=tuple(rules),
        blind_site=trial.blind_readers,
    )


def deid_context(*, trial: Trial, participant: Participant, visit: Visit | None) -> DeidContext:
    """Everything the engine needs for one participant's files (site withheld when readers are blinded)."""
    site = participant.site
    return DeidContext(
        secret=trial.deid_secret.encode(),
        subject_code=participant.subject_code,
        date_offset_days=participant.deid_date_offset_days,
        sponsor_name=trial.sponsor_name[:64],
        protocol_id=trial.code,
        protocol_name=trial.title[:64],
        site_id="" if trial.blind_readers else site.number,
        site_name="" if trial.blind_readers else site.name[:64],
        timepoint_id=visit.timepoint.code if visit else "",
        timepoint_description=visit.timepoint.label if visit else "",
        options=deid_options(trial),
    )


@dataclass(frozen=True)
class TrialContextFactory:
    """Context per patient for `manage.py deidentify --trial` (picklable: it runs in worker processes).

    A patient already known in the trial (by keyed patient hash, from earlier uploads) gets
    exactly the subject code and date shift uploads give them; an unknown patient gets a
    stable pseudonym derived from the trial secret. `subject` forces one participant.
    """

    secret: bytes = field(repr=False)
    known: dict[str, tuple[str, int]] = field(repr=False)
    options: DeidOptions
    sponsor_name: str
    protocol_id: str
    protocol_name: str
    forced: tuple[str, int] | None = None

    @property
    def key_secret(self) -> bytes:
        return self.secret

    def __call__(self, patient_key: str) -> DeidContext:
        subject, offset = self.forced or self.known.get(patient_key) or self._pseudonym(patient_key)
        return DeidContext(secret=self.secret, subject_code=subject, date_offset_days=offset, sponsor_name=self.sponsor_name,
                           protocol_id=self.protocol_id, protocol_name=self.protocol_name, options=self.options)

    def _pseudonym(self, patient_key: str) -> tuple[str, int]:
        subject = f"UNENROLLED-{patient_key[:10].upper()}"
        return subject, participant_date_offset(self.secret, subject)


def trial_context_factory(trial: Trial, subject_code: str | None = None) -> TrialContextFactory:
    participants = Participant.objects.filter(trial=trial)
    forced = None
    if subject_code:
        participant = participants.filter(subject_code=subject_code).first()
        if participant is None:
            raise Participant.DoesNotExist(f"No participant {subject_code} in {trial.code}.")
        forced = (participant.subject_code, participant.deid_date_offset_days)
    known = {p.patient_key: (p.subject_code, p.deid_date_offset_days) for p in participants.exclude(patient_key="")}
    return TrialContextFactory(
        secret=trial.deid_secret.encode(), known=known, options=deid_options(trial), sponsor_name=trial.sponsor_name[:64],
        protocol_id=trial.code, protocol_name=trial.title[:64], forced=forced,
    )
