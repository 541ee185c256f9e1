"""Checkpoints of the audit chain's head, kept outside the database.

Every transaction that appends audit events appends, once it has committed, one line
`SEQ HASH TIME` to AUDIT_CHECKPOINT_FILE (opened with O_APPEND: lines are never rewritten).
`verify_audit` then knows, without being told, how far the chain reached and what its hash was
there: deleting the newest events, truncating the table, or replacing the chain with a re-hashed
one no longer verifies. The file is only as safe as where it lives: put it on append-only or
write-once storage and copy it off the machine (docs/deployment.md).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)


class CheckpointFileError(Exception):
    """The checkpoint file exists but a line of it is not a checkpoint."""


@dataclass(frozen=True)
class Checkpoints:
    path: Path
    exists: bool
    heads: dict[int, str]  # seq -> hash the chain had when that event was the newest

    @property
    def newest(self) -> int:
        return max(self.heads, default=0)


def checkpoint_path() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_FILE)


def record_checkpoint(seq: int, event_hash: str) -> None:
    """Append the chain's head after a commit; a failure is logged loudly, never raised at the user."""
    path = checkpoint_path()
    line = f"{seq} {event_hash} {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}\n".encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)  # one write of a short line under O_APPEND: never interleaved with another
        finally:
            os.close(fd)
    except OSError:
        log.error("Could not write the audit checkpoint #%s to %s: removal of the newest audit events "
                  "cannot be detected until it can", seq, path, exc_info=True)


def read_checkpoints(path: Path | None = None) -> Checkpoints:
    path = path or checkpoint_path()
    if not path.exists():
        return Checkpoints(path, False, {})
    heads: dict[int, str] = {}
    with path.open(encoding="ascii", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            parts = line.split()
            if not line.endswith("\n") and not parts:
                continue
            if len(parts) < 2 or not parts[0].isdigit() or len(parts[1]) != 64:
                raise CheckpointFileError(f"{path}, line {number}: not a checkpoint ({line.strip()[:80]!r})")
            seq = int(parts[0])
            if heads.get(seq, parts[1]) != parts[1]:
                raise CheckpointFileError(f"{path}, line {number}: event #{seq} was checkpointed with two different hashes")
            heads[seq] = parts[1]
    return Checkpoints(path, True, heads)
