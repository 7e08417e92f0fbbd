"""Text from the data is inert in the terminal: no console markup, no escape sequence."""

from __future__ import annotations

from pipelines import console


def _printed(write) -> str:
    with console.console.capture() as captured:
        write()
    return captured.get()


def test_markup_and_escape_sequences_from_the_data_are_printed_as_text():
    name = "[link=file:///etc/passwd]ACME[/link] [/] \x1b[31mred\x1b[0m \x1b]8;;http://x\x1b\\ \x07"
    out = _printed(lambda: console.plain(f"customer: {name}"))
    assert "\x1b" not in out and "\x07" not in out
    assert "[link=file:///etc/passwd]ACME[/link] [/]" in out
    assert "\\x1b[31mred\\x1b[0m \\x1b]8;;http://x\\x1b\\ \\x07" in out
    out = _printed(lambda: console.error(f"no such file {name}"))
    assert out.startswith("error: no such file [link=") and "\x1b" not in out


def test_newlines_and_tabs_stay_as_they_are():
    assert console.data_text("a\tb\nc").plain == "a\tb\nc"
