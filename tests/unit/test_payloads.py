"""Reading back what the bot put in buttons and forms."""

from __future__ import annotations

import pytest

from handlers.payloads import PayloadError, metadata, number


@pytest.mark.parametrize("value", ["12", 12, "000042"])
def test_a_number_the_bot_wrote_reads_back(value: object) -> None:
    assert number(value, "button") == int(str(value))


@pytest.mark.parametrize("value", [None, "", "x", "-1", "1.5", "²", "٣", True, "1" * 13, ["1"]])
def test_anything_else_is_refused_with_an_explanation(value: object) -> None:
    with pytest.raises(PayloadError, match="That button could not be read"):
        number(value, "button")


def test_metadata_must_be_a_json_object() -> None:
    assert metadata({"private_metadata": '{"task": 3}'}) == {"task": 3}
    for bad in ("", "[1]", "{", "null"):
        with pytest.raises(PayloadError):
            metadata({"private_metadata": bad})
