"""What an export holds: one workshop's revealed data as plain values, safe to show in full.

`core.export_collect.collect` reads it once; every format (the modules of the
`core.export_formats` package, each declaring its `Format`) turns it into files and depends on
these values only, never on the database or on the reading. Nothing here may ever hold
anything about one person: no card, no sealed ballot, no role below k, no order that follows
casting or storage, no timestamp.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Final

from core.bilingual import Bilingual
from core.breakdown import Breakdown, Role
from core.domain import MethodId
from core.i18n import Message
from core.tally.methods.instant_runoff import IrvExplanation
from core.tally.pairwise import Pairwise
from core.tally.profile import CountingId
from core.tally.registry import DEFAULT_COUNTING
from core.tally.result import TallyResult
from core.workshops import WorkshopView

OTHER_GROUP: Final = "other"
"""The key the merged group of small/no roles gets in exported files."""


@dataclass(frozen=True)
class NoteRow:
    """One note as exported: its question's position (0-based), text, theme, dots, hidden."""

    question: int
    text: str
    theme: str | None
    dots: int
    is_hidden: bool


@dataclass(frozen=True)
class QuestionExport:
    position: int
    text: Bilingual
    themes: tuple[str, ...]
    summary_points: tuple[str, ...]
    notes: tuple[NoteRow, ...]


@dataclass(frozen=True)
class Counts:
    """Counts only: how many ballots, how many cards were issued and spent."""

    ballots: int
    cards_issued: int
    cards_spent: int


@dataclass(frozen=True)
class MethodShare:
    """One method's shares of a set of ballots (the room, or one role group).

    `points_pct`: its points as a percentage of all points given; `first_pct`: ballots
    ranking it first, `chosen_pct`: ballots ranking it at all, both as a percentage of the
    ballots; `average_score`: Slido's "average ranked score", the points it earned per
    ballot (K for 1st … 1 for K-th, 0 when unranked), so between 0 and K. Percentages have
    one decimal, the average two, rounded half to even, so files repeat byte for byte.
    """

    method: MethodId
    points: int
    points_pct: float
    first_choices: int
    first_pct: float
    chosen: int
    chosen_pct: float
    average_score: float


@dataclass(frozen=True)
class ExportData:
    """Everything an export may contain, already safe to show in full.

    `rankings` are sorted by content; `breakdown` passed `k_safe_breakdown`; `receipts` are
    sorted and carry no link to any ranking.
    """

    workshop: WorkshopView
    rankings: tuple[tuple[MethodId, ...], ...]
    tallies: Mapping[CountingId, TallyResult]
    irv: IrvExplanation
    robustness: tuple[Message, ...]
    shares: tuple[MethodShare, ...]
    """The whole room's shares, in the default counting's order."""
    head_to_head: Pairwise
    breakdown: Breakdown
    questions: tuple[QuestionExport, ...]
    receipts: tuple[str, ...]
    counts: Counts
    revealed_on: str
    """The day the ballots were revealed (ISO date, UTC): the workshop's date in the
    report. A day, never a time: nothing finer may follow the room's timeline."""

    @property
    def default_result(self) -> TallyResult:
        return self.tallies[DEFAULT_COUNTING]

    def labels(self, lang: str) -> dict[MethodId, str]:
        return self.workshop.method_labels(lang)

    def role_labels(self, lang: str) -> dict[Role, str]:
        return {r.key: r.label.get(lang) for r in self.workshop.roles}


@dataclass
class Rendering:
    """One bundle's input to every format: the data, the language chosen, the signing key's
    fingerprint, and the ranked chart in that language (PNG), drawn once on first use for
    every format that shows it (`draw_chart` is given by the format registry)."""

    data: ExportData
    lang: str
    fingerprint: str
    draw_chart: Callable[[ExportData, str], bytes] = field(repr=False)

    @cached_property
    def chart(self) -> bytes:
        return self.draw_chart(self.data, self.lang)


@dataclass(frozen=True)
class Format:
    """One export format, as its module declares it (`EXPORT_FORMAT = Format(...)`): its
    progress key (`export.progress.<key>`), how far along the bundle is when it starts (0..1,
    for the progress bar, and the build order: formats are built smallest first), and the
    function that builds its files."""

    key: str
    starts_at: float
    files: Callable[[Rendering], dict[str, bytes]]
