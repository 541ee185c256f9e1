"""State machines as data: one transition table per machine, checked in one place.

Every stateful model (trial, participant, visit, submission, file, series QC, query, read task,
adjudication, package, ...) declares one `StateMachine` next to its choices. Services never
compare or assign the state field by hand: they call `audit.transitions.transition(...)`, which
checks the table, stamps simple-history and writes the audit event. The test suite walks
`machine.pairs()` of every machine, and `machine.check_constraint()` is the database guard.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from django.db import models
from django.db.models import Q

from ictms.lib.errors import InvalidTransition

# Every machine registers itself here, so one test can walk them all.
REGISTRY: dict[str, StateMachine] = {}


@dataclass(frozen=True)
class StateMachine:
    """The allowed moves of one state field.

    `transitions` maps each state to the states it may move to (a self-loop must be listed to be
    allowed). `labels` gives the words shown in error messages (a TextChoices' `.choices`).
    """

    name: str
    field: str
    transitions: Mapping[str, frozenset[str]]
    audit_action: str
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)  # `field` here is the attribute above

    def __post_init__(self) -> None:
        unknown = {t for targets in self.transitions.values() for t in targets} - set(self.transitions)
        if unknown:
            raise ValueError(f"{self.name}: transitions to undeclared states {sorted(unknown)}")
        REGISTRY[self.name] = self

    @classmethod
    def build(
        cls,
        *,
        name: str,
        field: str,
        choices: type[models.TextChoices],
        transitions: Mapping[str, Iterable[str]],
        audit_action: str,
    ) -> StateMachine:
        """A machine over every value of `choices`; states missing from `transitions` are terminal."""
        table = {str(state): frozenset(str(t) for t in transitions.get(state, ())) for state in choices.values}
        return cls(name=name, field=field, transitions=table, audit_action=audit_action, labels=dict(choices.choices))

    @property
    def states(self) -> list[str]:
        return list(self.transitions)

    def allows(self, current: str, target: str) -> bool:
        return str(target) in self.transitions.get(str(current), frozenset())

    def targets(self, current: str) -> frozenset[str]:
        return self.transitions.get(str(current), frozenset())

    def choices_from(self, current: str) -> list[tuple[str, str]]:
        """(value, label) of the states `current` may move to, in declared order (for forms)."""
        return [(state, self.label(state)) for state in self.transitions if self.allows(current, state)]

    def is_terminal(self, state: str) -> bool:
        return not self.transitions.get(str(state))

    def label(self, state: str) -> str:
        return self.labels.get(str(state), str(state))

    def ensure(self, current: str, target: str) -> None:
        """Raise InvalidTransition (HTTP 409) unless the table allows current -> target."""
        if not self.allows(current, target):
            raise InvalidTransition(
                f"Cannot go from “{self.label(current)}” to “{self.label(target)}”: the "
                f"{self.name.replace('_', ' ')} does not allow this step."
            )

    def pairs(self) -> Iterator[tuple[str, str, bool]]:
        """Every (state, target, allowed) pair, for the test that walks all machines."""
        for current in self.transitions:
            for target in self.transitions:
                yield current, target, self.allows(current, target)

    def check_constraint(self, name: str | None = None) -> models.CheckConstraint:
        """The database guard for the state column: only declared states can be stored."""
        return models.CheckConstraint(
            condition=Q(**{f"{self.field}__in": self.states}), name=name or f"{self.name}_{self.field}_valid"
        )
