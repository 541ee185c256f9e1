"""Browser checks of how set-up forms are laid out: every checkbox sits beside its own label."""
from __future__ import annotations

import pytest

from tests.conftest import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _assert_checkboxes_beside_their_labels(page, form_selector: str) -> int:
    """Each checkbox's nearest label (horizontal gap, same row) is the one that names it.

    Measured from the drawn box (a square centred in the input's box), which is what the eye pairs
    with a label: an input stretched to a text field's width draws its box in the middle, far from
    its own label and as close to the previous field's one.
    """
    boxes = page.evaluate(
        """(sel) => {
          const form = document.querySelector(sel);
          const labels = [...form.querySelectorAll('label')].map(l => ({for: l.htmlFor, r: l.getBoundingClientRect()}));
          return [...form.querySelectorAll('input[type=checkbox]')].map(cb => {
            const b = cb.getBoundingClientRect();
            const cx = b.left + b.width / 2, cy = b.top + b.height / 2, half = Math.min(b.width, b.height) / 2;
            const r = {left: cx - half, right: cx + half};
            const row = labels.filter(l => l.r.top <= cy && cy <= l.r.bottom);
            const gap = l => Math.max(l.r.left - r.right, r.left - l.r.right, 0);
            row.sort((a, b) => gap(a) - gap(b));
            return {id: cb.id, width: b.width, nearest: row.length ? row[0].for : null,
                    gap: row.length ? gap(row[0]) : null};
          });
        }""",
        form_selector,
    )
    assert boxes, f"no checkboxes in {form_selector}"
    for box in boxes:
        assert box["nearest"] == box["id"], box
        assert box["gap"] < 16, box  # right beside it, not across a wide empty input
        assert box["width"] < 40, box  # natural width, not stretched like a text input
    return len(boxes)


def test_timepoint_form_checkboxes_sit_beside_their_own_labels(page, world):
    browser_login(page, "admin_a")
    page.goto("/t/TRIAL-A/schedule/")
    assert _assert_checkboxes_beside_their_labels(page, "#add-timepoint") == 2  # is baseline, required
    page.goto(f"/t/TRIAL-A/schedule/{world.timepoints[0].pk}/")
    _assert_checkboxes_beside_their_labels(page, "form.form-inline")


def test_requirement_form_checkboxes_sit_beside_their_own_labels(page, world):
    from trials.models import ImagingRequirement

    tp = world.timepoints[0]
    requirement = ImagingRequirement.objects.create(timepoint=tp, modality="CT", body_region="Chest")
    browser_login(page, "admin_a")
    page.goto(f"/t/TRIAL-A/schedule/{tp.pk}/")
    _assert_checkboxes_beside_their_labels(page, "#add-requirement")
    page.goto(f"/t/TRIAL-A/requirements/{requirement.pk}/")
    _assert_checkboxes_beside_their_labels(page, "form.form-inline")


