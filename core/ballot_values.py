"""A ballot as a value: its named errors, its sealed payload, its stored text form, and the
one rule for what a valid ranking is (checked when casting, when opening and when counting).

Nothing here touches storage. `shuffled` is the one shuffle every step uses, so no row
order ever follows the order of casting.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection, Sequence
from typing import Any, Final, NamedTuple

from core.crypto import human_codes, sealed_box
from core.domain import MethodId, WorkshopCode
from core.errors import BeiduiError
from core.limits import JOIN_CODE_LENGTH, MAX_BALLOT_SIZE, MAX_CODE_TEXT, PAYLOAD_LENGTH

# --------------------------------------------------------------------------------------------
# Errors (data/locales/<lang>/ballot.toml)
# --------------------------------------------------------------------------------------------


class VotingClosed(BeiduiError, key="ballot.errors.voting_closed"):
    """Voting has ended: no more ballots, and no more cards."""


class EmptyBallot(BeiduiError, key="ballot.errors.empty_ballot"):
    """The ranking names no method."""


class TooManyChoices(BeiduiError, key="ballot.errors.too_many_choices"):
    """More methods ranked than the ballot size K (params: max)."""


class DuplicateMethod(BeiduiError, key="ballot.errors.duplicate_method"):
    """The same method ranked twice."""


class UnknownMethod(BeiduiError, key="ballot.errors.unknown_method"):
    """A ranked method is not one of this workshop's methods."""


class UnknownRole(BeiduiError, key="ballot.errors.unknown_role"):
    """The declared role is not one of this workshop's roles."""


class CardRequired(BeiduiError, key="ballot.errors.card_required"):
    """This workshop votes with cards and no card code was given."""


class CardNotFound(BeiduiError, key="ballot.errors.card_not_found"):
    """No usable card with this code here (unknown, another workshop's, or voided)."""


class CardAlreadySpent(BeiduiError, key="ballot.errors.card_spent"):
    """This card has already been used for a ballot."""


class InvalidCardCount(BeiduiError, key="ballot.errors.invalid_card_count"):
    """Cards are issued 1..500 at a time (params: low, high)."""


class CardsNotUsed(BeiduiError, key="ballot.errors.open_mode_no_cards"):
    """An open-mode workshop has no cards."""


class NotLiveResults(BeiduiError, key="ballot.errors.not_live_results"):
    """Live results were not chosen for this workshop when it was created."""


class AlreadyRevealed(BeiduiError, key="ballot.errors.already_revealed"):
    """The box has already been opened."""


class NotRevealed(BeiduiError, key="ballot.errors.not_revealed"):
    """Individual (anonymous) ballots and receipts are listed only after the reveal."""


class CorruptBallot(BeiduiError, key="ballot.errors.corrupt_ballot"):
    """A sealed ballot opened but does not hold a valid ballot for this workshop."""


# --------------------------------------------------------------------------------------------
# Limits and the payload format
# --------------------------------------------------------------------------------------------

# Typed text longer than this is never a join code, card code or receipt: refuse it before
# Unicode folding walks megabytes of it.

PAYLOAD_VERSION: Final = 1
# Every plaintext is padded to `limits.PAYLOAD_LENGTH` bytes before sealing, so a ciphertext's
# length says nothing about how many methods were ranked, which ones, or whether a role was
# declared (core.limits checks at import that the longest ballot fits).
SEALED_LENGTH: Final = PAYLOAD_LENGTH + sealed_box.SEAL_OVERHEAD


class OpenedBallot(NamedTuple):
    """A ballot in the clear: the declared role (None: none) and the ranking, best first."""

    role: str | None
    ranking: tuple[MethodId, ...]


def check_ranking(
    ranking: Sequence[MethodId], method_keys: Collection[MethodId], ballot_size: int
) -> tuple[MethodId, ...]:
    """The ranking as a tuple if it is 1..`ballot_size` distinct methods of `method_keys`.

    The one rule for a valid ranking: casting, opening and counting all check with it.
    Raises `EmptyBallot`, `TooManyChoices` (params: max), `UnknownMethod` or
    `DuplicateMethod`.
    """
    if isinstance(ranking, str | bytes):  # a bare string would be read letter by letter
        raise UnknownMethod("ranking must be a sequence of method keys")
    if len(ranking) == 0:
        raise EmptyBallot("no method ranked")
    if len(ranking) > ballot_size:
        raise TooManyChoices("too many methods", max=ballot_size)
    out = tuple(ranking)
    for m in out:
        if not isinstance(m, str) or m not in method_keys:
            raise UnknownMethod("not a method of this workshop")
    if len(set(out)) != len(out):
        raise DuplicateMethod("a method ranked twice")
    return out


def ranking_text(ranking: Sequence[MethodId]) -> str:
    """The stored text form of a ranking (`opened_ballots.ranking`, backups): one key a line."""
    return "\n".join(ranking)


def ranking_from_text(text: str) -> tuple[MethodId, ...]:
    """The ranking `ranking_text` wrote."""
    return tuple(text.split("\n"))


def encode_payload(ranking: Sequence[str], role: str | None) -> bytes:
    """Compact JSON `{"v","ranking","role"}` padded with spaces to `PAYLOAD_LENGTH` bytes.

    Spaces are JSON whitespace, so the padded text is still one JSON document. Raises
    ValueError if it cannot fit (only for keys the templates would never accept).
    """
    body = json.dumps(
        {"v": PAYLOAD_VERSION, "ranking": list(ranking), "role": role},
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode("ascii")
    if len(body) > PAYLOAD_LENGTH:
        raise ValueError("ballot payload longer than PAYLOAD_LENGTH")
    return body + b" " * (PAYLOAD_LENGTH - len(body))


def decode_payload(plaintext: bytes) -> OpenedBallot:
    """The ballot in `encode_payload` output; `CorruptBallot` for anything else."""
    if len(plaintext) != PAYLOAD_LENGTH:
        raise CorruptBallot("payload length")
    try:
        data = json.loads(plaintext.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise CorruptBallot("payload is not JSON") from None
    if not isinstance(data, dict) or set(data) != {"v", "ranking", "role"}:
        raise CorruptBallot("payload fields")
    ranking, role = data["ranking"], data["role"]
    if (
        data["v"] != PAYLOAD_VERSION
        or not isinstance(ranking, list)
        or not all(isinstance(m, str) for m in ranking)
        or not (role is None or isinstance(role, str))
    ):
        raise CorruptBallot("payload types")
    return OpenedBallot(role, tuple(ranking))


def ballot_aad(workshop_id: int, code: WorkshopCode) -> bytes:
    """Associated data binding a sealed ballot to its workshop (a blob moved elsewhere fails)."""
    return f"beidui/ballot/v1\x00{workshop_id}\x00{code}".encode("ascii")


def join_code(text: str) -> WorkshopCode:
    """The canonical join code for typed text, refusing huge input before folding it."""
    if not isinstance(text, str) or len(text) > MAX_CODE_TEXT:
        raise human_codes.MalformedJoinCode(expected=JOIN_CODE_LENGTH)
    return human_codes.normalize_join_code(text)


def shuffled(rows: Sequence[Any]) -> list[Any]:
    """`rows` in a uniformly random order drawn from the OS generator."""
    # Sorting by fresh 128-bit random keys (never reused, never stored) is a uniform shuffle.
    keyed = [(secrets.token_bytes(16), i) for i in range(len(rows))]
    keyed.sort()
    return [rows[i] for _, i in keyed]


def open_ballots(
    keypair: sealed_box.BoxKeypair,
    sealed: Sequence[bytes],
    aad: bytes,
    method_keys: Sequence[str],
    role_keys: Sequence[str],
    ballot_size: int,
) -> list[OpenedBallot]:
    """Decrypt and check sealed ballots; `CannotUnseal` / `CorruptBallot` stop everything.

    A ballot that opens but is not valid for this workshop can only come from someone who
    wrote to the database with the public key: refusing loudly is better than counting it.
    """
    methods, roles = frozenset(method_keys), frozenset(role_keys)
    size = min(ballot_size, MAX_BALLOT_SIZE)
    out: list[OpenedBallot] = []
    for blob in sealed:
        ballot = decode_payload(sealed_box.open_sealed(keypair, blob, aad))
        try:
            check_ranking(ballot.ranking, methods, size)
        except BeiduiError:
            raise CorruptBallot("ballot not valid for this workshop") from None
        if ballot.role is not None and ballot.role not in roles:
            raise CorruptBallot("ballot not valid for this workshop")
        out.append(ballot)
    return out
