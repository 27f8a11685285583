"""Reading HTML forms out of pages, the way a browser would, for tests that click through them."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str | None, str | None, str]] = field(default_factory=list)
    input_names: set[str] = field(default_factory=set)
    #: The checkboxes ticked as the page came, by name: (value, ...) for each name.
    ticked: dict[str, list[str]] = field(default_factory=dict)

    def submission(
        self, button_text: str | None = None, untick: tuple[str, ...] = ()
    ) -> dict[str, str | list[str]]:
        """The fields a browser would send when the button with that text is clicked, with the
        checkboxes whose values are in `untick` unticked first."""
        data: dict[str, str | list[str]] = dict(self.fields)
        for name, values in self.ticked.items():
            data[name] = [value for value in values if value not in untick]
        for name, value, text in self.buttons:
            if button_text is None or button_text.lower() in text.lower():
                if name:
                    data[name] = value or ""
                return data
        raise LookupError(f"no button {button_text!r} in form {self.action}")


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._button: list | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append(
                Form(attributes.get("action") or "", (attributes.get("method") or "get").lower())
            )
        elif not self.forms:
            return
        elif tag == "input":
            name = attributes.get("name")
            kind = (attributes.get("type") or "text").lower()
            if name:
                self.forms[-1].input_names.add(name)
            if kind == "submit":
                self.forms[-1].buttons.append(
                    (name, attributes.get("value"), attributes.get("value") or "")
                )
            elif name and kind == "checkbox":
                if "checked" in attributes and "disabled" not in attributes:
                    # What a browser sends for a ticked box: its value, "on" without one.
                    value = attributes.get("value") or "on"
                    self.forms[-1].ticked.setdefault(name, []).append(value)
            elif name and kind != "radio":
                self.forms[-1].fields[name] = attributes.get("value") or ""
        elif tag == "button":
            self._button = [attributes.get("name"), attributes.get("value"), ""]

    def handle_data(self, data):
        if self._button is not None:
            self._button[2] += data

    def handle_endtag(self, tag):
        if tag == "button" and self._button is not None and self.forms:
            name, value, text = self._button
            self.forms[-1].buttons.append((name, value, text.strip()))
            self._button = None


def forms(html: str, base_url: str = "") -> list[Form]:
    """Every form on the page, with actions resolved against `base_url`."""
    parser = _FormParser()
    parser.feed(html)
    for form in parser.forms:
        form.action = urljoin(base_url, form.action)
    return parser.forms


def csrf_token(html: str) -> str:
    """The CSRF token of the first form that has one."""
    for form in forms(html):
        if "csrf_token" in form.fields:
            return form.fields["csrf_token"]
    raise LookupError("no CSRF token on the page")
