"""The evaluator's page: locked until the passphrase, then charts and a signed bundle."""

from __future__ import annotations

import io
import zipfile

from core.console_access import unlock_console
from core.instance import Instance
from core.reveal import reveal
from tests.app.conftest import make_app, submit
from tests.casting import voted_and_closed
from ui import state

PASS = "facilitator secret 1"


def _revealed(inst: Instance) -> str:
    code = voted_and_closed(inst, "Evaluated", PASS)
    reveal(unlock_console(inst.db, inst.secret_key, code, PASS), PASS)
    return code


def test_the_results_page_needs_the_passphrase_then_builds_a_signed_bundle(
    app_env: Instance,
) -> None:
    code = _revealed(app_env)
    at = make_app({"lang": "en"}).run()
    at.switch_page("pages/results.py").run()
    assert not at.exception
    assert not at.selectbox  # no list of workshops: the code is typed
    at.text_input(key="results_code").input(code)
    at.text_input(key="results_phrase").input("wrong passphrase")
    submit(at, "results_unlock")
    assert at.error
    at.text_input(key="results_phrase").input(PASS)
    submit(at, "results_unlock")
    assert not at.exception
    # Building the whole signed bundle (charts in two languages, PDF) takes seconds, not ms.
    at.button(key="prepare").click().run(timeout=180)
    assert not at.exception
    downloads = at.session_state[state.DOWNLOADS]
    names = zipfile.ZipFile(io.BytesIO(downloads.zip_bytes)).namelist()
    assert any(n.endswith("manifest.sig") for n in names)
    assert any(n.endswith("results.xlsx") for n in names)
    assert code in downloads.bundle_name
    # The mentor (1 ballot) never shows: partners (4) would leave 2 < k, so no group is shown.
    assert any("No role reached 3 ballots" in i.value for i in at.info)
