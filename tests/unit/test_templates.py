"""Templates are data: the default one carries the workshop; a bad file names file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.templates import TemplateError, available_templates, load_template

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "data" / "templates" / "default.toml"


def test_the_default_template_carries_the_four_questions_and_the_methods() -> None:
    tpl = available_templates()["default"]
    assert [q.zh for q in tpl.questions] == [
        "哪些成长与项目强关联？",
        "哪些项目手法帮助到了你？",
        "你期待的社群未来有什么样的发展？",
        "我作为社群的一份子可以做什么？",
    ]
    assert len(tpl.methods) >= 8
    keys = {m.key for m in tpl.methods}
    assert {
        "unrestricted_funding",
        "co_creation_fund",
        "action_research",
        "supportive_stance",
        "tiered_capacity_building",
        "mentor_accompaniment",
        "annual_gathering",
        "regional_network",
    } <= keys
    assert all(
        m.label.zh and m.label.en and m.description.zh and m.description.en for m in tpl.methods
    )
    assert [r.key for r in tpl.roles] == [
        "partner",
        "trainee",
        "mentor",
        "co_initiator",
        "observer",
    ]
    assert (tpl.ballot_size, tpl.anonymity_k) == (5, 5)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = DEFAULT.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("broken", "field"),
    [
        (GOOD.replace('key = "default"', 'key = "Default Key"'), "template.key"),
        (
            GOOD.replace('name_en = "Programme evaluation workshop (annual meeting)"', ""),
            "template.name_en",
        ),
        (GOOD.replace("ballot_size = 5", "ballot_size = 0"), "template.ballot_size"),
        (GOOD.replace("anonymity_k = 5", "anonymity_k = 2"), "template.anonymity_k"),
        (
            GOOD.replace('en = "Which of your growth is strongly linked to the programme?"', ""),
            "questions[0].en",
        ),
        (
            GOOD.replace('key = "co_creation_fund"', 'key = "unrestricted_funding"'),
            "methods[1].key",
        ),
        (GOOD.replace('label_zh = "行动研究"', "label_zh = 3"), "methods[2].label_zh"),
        (GOOD.replace("[template]", "[templat]"), "template"),
        (GOOD + "\n[[roles]\n", "(toml)"),
    ],
)
def test_a_malformed_template_names_the_file_and_the_field(
    tmp_path: Path, broken: str, field: str
) -> None:
    path = _write(tmp_path, broken)
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert info.value.field == field
    assert info.value.path == str(path)
    assert str(path) in str(info.value)


def test_the_template_error_message_is_localized(tmp_path: Path) -> None:
    from core.i18n import tm

    path = _write(tmp_path, GOOD.replace("ballot_size = 5", "ballot_size = 99"))
    with pytest.raises(TemplateError) as info:
        load_template(path)
    assert "template.ballot_size" in tm(info.value.message, "zh")
    assert "模板文件" in tm(info.value.message, "zh")
    assert "Template file" in tm(info.value.message, "en")
