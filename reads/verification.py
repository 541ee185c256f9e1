"""Checking the reads' electronic signatures against what they sign (21 CFR Part 11 §11.70: a
signature stays linked to its record; `manage.py verify_signatures`).

For every current (not superseded) signature: the SHA-256 of its stored content is recomputed
(`reads.reading.content_sha256`); the content is built again from the live lesions,
observations, measurements and stored response (`reads.live.signed_content`) and must be the
stored content exactly; the hash must be the one the audit trail recorded when the task was
signed (audit events are hash-chained, so content and hash rewritten together are caught too);
and the task must still be signed. Anything changed behind the services' back (an
`.update()` in the database, a restored backup of one table) shows as a problem.
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from audit.actions import AuditAction
from audit.models import AuditEvent
from reads import live
from reads.choices import ReadTaskState
from reads.models import ReadTask, Signature
from reads.reading import content_sha256


@dataclass(frozen=True)
class SignatureProblem:
    signature: int
    task: int
    where: str  # "case C-XXXX Reader 1 W8, signed by <name> at <UTC>"
    problems: tuple[str, ...]

    def __str__(self) -> str:
        return f"Signature {self.signature} (task {self.task}, {self.where}): " + "; ".join(self.problems)


@dataclass
class SignatureReport:
    checked: int = 0
    problems: list[SignatureProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _lesions_by_label(content: dict[str, Any]) -> dict[str, Any]:
    return {str(row.get("label")): row for row in content.get("lesions") or []}


def content_differences(signed: Any, now: Any, path: str = "") -> Iterator[str]:
    """Where `now` differs from `signed`, as "path: signed X, now Y" (lesions named by their label)."""
    if isinstance(signed, dict) and isinstance(now, dict):
        if path == "" and "lesions" in signed and "lesions" in now:
            before, after = _lesions_by_label(signed), _lesions_by_label(now)
            for label in sorted(before.keys() | after.keys()):
                if label not in after:
                    yield f"{label}: signed, now missing"
                elif label not in before:
                    yield f"{label}: not signed, now present"
                else:
                    yield from content_differences(before[label], after[label], label)
            signed = {k: v for k, v in signed.items() if k != "lesions"}
            now = {k: v for k, v in now.items() if k != "lesions"}
        for key in sorted(signed.keys() | now.keys()):
            where = f"{path}.{key}" if path else str(key)
            if key not in now:
                yield f"{where}: signed {_show(signed[key])}, now missing"
            elif key not in signed:
                yield f"{where}: not signed, now {_show(now[key])}"
            else:
                yield from content_differences(signed[key], now[key], where)
    elif isinstance(signed, list) and isinstance(now, list) and len(signed) == len(now):
        for i, (a, b) in enumerate(zip(signed, now, strict=True)):
            yield from content_differences(a, b, f"{path}[{i}]")
    elif content_sha256({"v": signed}) != content_sha256({"v": now}):
        yield f"{path}: signed {_show(signed)}, now {_show(now)}"


def _recorded_hashes(task_ids: list[int]) -> dict[int, str]:
    """The sha256 of the latest signing audit event of each task."""
    out: dict[int, str] = {}
    events = (AuditEvent.objects.filter(action=AuditAction.READ_TASK_SIGN, target_type=ReadTask._meta.label_lower,
                                        target_id__in=[str(pk) for pk in task_ids])
              .order_by("seq").values_list("target_id", "data"))
    for target_id, data in events:
        out[int(target_id)] = str((data or {}).get("sha256", ""))
    return out


def _check(signature: Signature, task: ReadTask, read: live.Read, recorded: str | None) -> list[str]:
    problems = []
    stored = signature.content
    if content_sha256(stored) != signature.content_sha256:
        problems.append("the stored content does not match the signature's SHA-256 (content or hash altered)")
    if recorded is None:
        problems.append("no signing of this task is recorded in the audit trail")
    elif recorded != signature.content_sha256:
        problems.append("the signature's SHA-256 is not the one the audit trail recorded at signing")
    if task.state != ReadTaskState.SIGNED:
        problems.append(f"the task is {task.state}, not signed")
    fresh = next((t for t in read.tasks if t.pk == task.pk), task)
    current = live.signed_content(read, fresh, fresh.response or {})
    if content_sha256(current) != content_sha256(stored):
        changes = list(content_differences(stored, current)) or ["the content differs"]
        problems.append("changed after signing: " + ", ".join(changes))
    return problems


def signatures_verify() -> SignatureReport:
    """Check every current signature (and that every signed task has one)."""
    report = SignatureReport()
    signatures = list(Signature.objects.filter(superseded=False)
                      .select_related("task__assignment__case", "task__visit__timepoint").order_by("pk"))
    by_assignment: dict[int, list[Signature]] = defaultdict(list)
    for signature in signatures:
        by_assignment[signature.task.assignment_id].append(signature)
    recorded = _recorded_hashes([s.task_id for s in signatures])
    for group in by_assignment.values():
        read = live.load_read(group[0].task.assignment)
        for signature in group:
            task = signature.task
            report.checked += 1
            problems = _check(signature, task, read, recorded.get(task.pk))
            if problems:
                where = (f"case {task.assignment.case.code} Reader {task.assignment.slot} {task.visit.timepoint.code}, "
                         f"signed by {signature.printed_name} at {signature.signed_at:%Y-%m-%d %H:%M:%S} UTC")
                report.problems.append(SignatureProblem(signature.pk, task.pk, where, tuple(problems)))
    unsigned = (ReadTask.objects.filter(state=ReadTaskState.SIGNED).exclude(signatures__superseded=False)
                .select_related("assignment__case", "visit__timepoint").order_by("pk"))
    for task in unsigned:
        report.problems.append(SignatureProblem(
            0, task.pk, f"case {task.assignment.case.code} Reader {task.assignment.slot} {task.visit.timepoint.code}",
            ("the task is signed but has no current signature",)))
    return report
