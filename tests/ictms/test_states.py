"""The state-machine table: declared states only, terminal states, the 409 it raises."""
import pytest
from django.db import models

from ictms.lib.errors import InvalidTransition
from ictms.lib.states import REGISTRY, StateMachine


class _Light(models.TextChoices):
    RED = "red", "Red"
    GREEN = "green", "Green"
    OFF = "off", "Off"


MACHINE = StateMachine.build(
    name="test_light", field="state", choices=_Light, audit_action="light.change",
    transitions={_Light.RED: {_Light.GREEN, _Light.OFF}, _Light.GREEN: {_Light.RED}},
)


def test_allowed_moves_pass_and_others_raise_with_labels():
    MACHINE.ensure(_Light.RED, _Light.GREEN)
    with pytest.raises(InvalidTransition, match="“Green” to “Off”"):
        MACHINE.ensure(_Light.GREEN, _Light.OFF)


def test_states_missing_from_the_table_are_terminal_and_pairs_cover_every_combination():
    assert MACHINE.is_terminal(_Light.OFF)
    pairs = list(MACHINE.pairs())
    assert len(pairs) == 9
    assert sum(allowed for _, _, allowed in pairs) == 3
    assert REGISTRY["test_light"] is MACHINE


def test_a_transition_to_an_undeclared_state_is_refused_at_import():
    with pytest.raises(ValueError, match="undeclared"):
        StateMachine(name="broken", field="s", transitions={"a": frozenset({"b"})}, audit_action="x")
