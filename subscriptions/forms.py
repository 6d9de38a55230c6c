"""The public forms: signup, preferences, and "email me a manage link".

Every field has a length limit, every list a size limit, and every error message says
what to change. Forms only validate and normalise; services do the writing.
"""

from __future__ import annotations

import copy
import html
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.widgets import ChoiceWidget
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from digest.sources.base import is_valid_arxiv_id, normalise_arxiv_id
from subscriptions.models import DIGEST_SIZES, WEEKDAYS, Subscriber
from subscriptions.services import normalise_email
from subscriptions.validators import validate_public_address

# The common cs/stat categories offered as checkboxes.
CATEGORY_CHOICES = [
    ("cs.AI", "Artificial Intelligence (cs.AI)"),
    ("cs.CL", "Computation and Language (cs.CL)"),
    ("cs.CV", "Computer Vision (cs.CV)"),
    ("cs.LG", "Machine Learning (cs.LG)"),
    ("cs.IR", "Information Retrieval (cs.IR)"),
    ("cs.NE", "Neural and Evolutionary Computing (cs.NE)"),
    ("cs.RO", "Robotics (cs.RO)"),
    ("cs.CR", "Cryptography and Security (cs.CR)"),
    ("cs.HC", "Human-Computer Interaction (cs.HC)"),
    ("cs.SE", "Software Engineering (cs.SE)"),
    ("cs.SD", "Sound (cs.SD)"),
    ("cs.MA", "Multiagent Systems (cs.MA)"),
    ("stat.ML", "Machine Learning (stat.ML)"),
    ("stat.ME", "Methodology (stat.ME)"),
]
MAX_INTERESTS_CHARS = 1000
MAX_LIST_TEXT_CHARS = 3000
MAX_PAPERS = 20
MAX_AUTHORS = 20
MAX_AUTHOR_CHARS = 100
MAX_PAUSE_DAYS = 365
# Control characters never belong in an address; CR/LF would be a header injection.
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_LIST_SEPARATORS = re.compile(r"[\n,;]+")


def _timezone_choices() -> list[tuple[str, str]]:
    names = sorted(
        name
        for name in zoneinfo.available_timezones()
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "posix/", "right/"))
    )
    return [("UTC", "UTC"), *((name, name.replace("_", " ")) for name in names)]


TIMEZONE_CHOICES = _timezone_choices()
HOUR_CHOICES = [(hour, f"{hour:02d}:00") for hour in range(24)]
# The one way the pages write a date ("24 December 2026"); the pause field reads it back.
DATE_FORMAT = "%d %B %Y"
DATE_INPUT_FORMATS = [DATE_FORMAT, "%Y-%m-%d", "%d %b %Y"]


def format_date(day: date) -> str:
    """The site's date format, as Django's "j F Y" filter writes it (no leading zero)."""
    return f"{day.day} {day:%B %Y}"


_TIMEZONE_NAMES = frozenset(name for name, _label in TIMEZONE_CHOICES)


class SharedChoicesMixin(forms.ChoiceField):
    """A choice field whose choices are constants: each form instance shares them.

    Django deep-copies every field's choices for every form instance, and its widget's
    copy normalises them again, item by item (for the 519 time zones that cost more than
    the rest of the form's set-up); callable choices are even normalised each time they
    are read. A field whose choices nobody changes per form needs none of it: this copies
    what forms.Field.__deepcopy__ copies, and the widget without touching its choices.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        result = copy.copy(self)
        memo[id(self)] = result
        widget = copy.copy(self.widget)  # shares the normalised _choices list
        widget.attrs = self.widget.attrs.copy()
        memo[id(self.widget)] = widget
        result.widget = widget
        result.error_messages = self.error_messages.copy()
        result.validators = self.validators[:]
        return result


class SharedChoiceField(SharedChoicesMixin, forms.ChoiceField):
    pass


class TimezoneField(SharedChoiceField):
    def valid_value(self, value: Any) -> bool:
        return str(value) in _TIMEZONE_NAMES  # a set lookup, not a walk through 519 pairs


class SharedTypedChoiceField(SharedChoicesMixin, forms.TypedChoiceField):
    pass


class SharedMultipleChoiceField(SharedChoicesMixin, forms.MultipleChoiceField):
    pass


class TimezoneSelect(forms.Select):
    """The time-zone select, its 519 options rendered once per process (through Django's
    per-option templates they took 15.6 ms of the landing page's 28 ms); each render only
    marks the selected option."""

    def use_required_attribute(self, initial: Any) -> bool:
        # Select's rule ("required" only if the first option is empty): "UTC" is not.
        return False

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        options = _timezone_options_html()
        if value not in (None, ""):
            plain = f'<option value="{escape(str(value))}">'
            options = options.replace(plain, plain[:-1] + " selected>", 1)
        final = self.build_attrs(self.attrs, attrs)
        final["name"] = name
        return mark_safe(f"<select{_attrs_html(final)}>{options}</select>")


@cache
def _timezone_options_html() -> str:
    return "".join(
        f'<option value="{escape(v)}">{escape(label)}</option>' for v, label in TIMEZONE_CHOICES
    )


# Django renders each option of a choice widget through its own templates (an include or
# three per option): for the preferences page that was most of its time. These widgets
# write the same HTML in Python.


def _esc(value: Any) -> str:
    """django.utils.html.escape's text without its lazy-string wrapper (a third of the
    preferences page's escaping time went to that wrapper)."""
    return html.escape(str(value))


def _attrs_html(attrs: dict[str, Any]) -> str:
    """flatatt() without format_html's overhead: True is a bare attribute."""
    return "".join(
        f" {k}" if v is True else f' {k}="{_esc(v)}"'
        for k, v in attrs.items()
        if v is not False and v is not None
    )


# A choice widget's options, escaped once per process: (value, HTML before the "selected"
# or "checked" mark, HTML after it). Keyed by everything the HTML is made of; the choices
# and attributes of our forms are constants, so this holds a few entries.
_Parts = tuple[tuple[str, str, str], ...]
_PARTS_MAX = 64
_parts_cache: dict[tuple[Any, ...], _Parts] = {}


def _cached_parts(key: tuple[Any, ...], build: Callable[[], _Parts]) -> _Parts:
    try:
        parts = _parts_cache.get(key)
    except TypeError:  # an unhashable choice or attribute: build every time
        return build()
    if parts is None:
        parts = build()
        if len(_parts_cache) >= _PARTS_MAX:
            _parts_cache.clear()
        _parts_cache[key] = parts
    return parts


def _marked(parts: _Parts, chosen: set[str], mark: str) -> str:
    return "".join(
        f"{before}{mark}{after}" if v in chosen else f"{before}{after}"
        for v, before, after in parts
    )


class FastSelect(forms.Select):
    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        final = {**self.build_attrs(self.attrs, attrs), "name": name}
        chosen = {str(v) for v in self.format_value(value)}
        choices = tuple(self.choices)
        parts = _cached_parts(
            ("select", choices),
            lambda: tuple(
                (str(v), f'<option value="{_esc(v)}"', f">{_esc(label)}</option>")
                for v, label in choices
            ),
        )
        return mark_safe(
            f"<select{_attrs_html(final)}>{_marked(parts, chosen, ' selected')}</select>"
        )


class _FastChoiceInputs(ChoiceWidget):
    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        final = self.build_attrs(self.attrs, attrs)
        group_id = final.pop("id", None) or f"id_{name}"
        chosen = {str(v) for v in self.format_value(value)}
        choices = tuple(self.choices)

        def build() -> _Parts:
            rows = []
            for index, (v, label) in enumerate(choices):
                one = {**final, "id": f"{group_id}_{index}"}
                before = (
                    f'<div><label for="{_esc(one["id"])}"><input type="{self.input_type}" '
                    f'name="{_esc(name)}" value="{_esc(v)}"{_attrs_html(one)}'
                )
                rows.append((str(v), before, f"> {_esc(label)}</label></div>"))
            return tuple(rows)

        key = (self.input_type, choices, name, group_id, tuple(final.items()))
        rows = _marked(_cached_parts(key, build), chosen, " checked")
        return mark_safe(f'<div id="{_esc(group_id)}">{rows}</div>')


class FastTextInput(forms.TextInput):
    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        final = {"type": self.input_type, "name": name, **self.build_attrs(self.attrs, attrs)}
        shown = self.format_value(value)
        if shown is not None:
            final["value"] = shown
        return mark_safe(f"<input{_attrs_html(final)}>")


class FastEmailInput(FastTextInput):
    input_type = "email"


class FastTextarea(forms.Textarea):
    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        final = {"name": name, **self.build_attrs(self.attrs, attrs)}
        shown = self.format_value(value)
        return mark_safe(f"<textarea{_attrs_html(final)}>\n{escape(shown or '')}</textarea>")


class FastRadioSelect(_FastChoiceInputs, forms.RadioSelect):
    pass


class FastCheckboxSelectMultiple(_FastChoiceInputs, forms.CheckboxSelectMultiple):
    pass


@dataclass(frozen=True, slots=True)
class FieldRow:
    name: str
    has_errors: bool
    html: SafeString

    @property
    def block(self) -> SafeString:
        """The row in its <div class="field ..."> (written here, not in the template's
        loop: the page renders a dozen of them)."""
        error = " has-error" if self.has_errors else ""
        return mark_safe(f'<div class="field field-{self.name}{error}">{self.html}</div>')


def _row(field: forms.BoundField) -> FieldRow:
    """Django's field group (django/forms/field.html: label or legend, help text, errors,
    widget), written in Python: through the templates it cost more than the widgets."""
    label = escape(f"{field.label}{field.form.label_suffix or ''}")
    parts = []
    if field.use_fieldset:
        parts.append(f"<fieldset><legend>{label}</legend>")
    else:
        parts.append(f'<label for="{escape(field.id_for_label)}">{label}</label>')
    if field.help_text:  # our own text, like Django's |safe
        parts.append(f'<div class="helptext" id="{field.auto_id}_helptext">{field.help_text}</div>')
    if field.errors:
        parts.append(str(field.errors))
    parts.append(str(field))
    if field.use_fieldset:
        parts.append("</fieldset>")
    return FieldRow(name=field.name, has_errors=bool(field.errors), html=mark_safe("".join(parts)))


class SiteDateInput(FastTextInput, forms.DateInput):
    """A text field showing the site's date format (an <input type=date> shows the
    browser's own, mm/dd/yyyy in en-US, whatever the rest of the site says)."""

    input_type = "text"

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, date | datetime):
            return format_date(value)
        return super().format_value(value)


class PaperIdsField(forms.MultipleChoiceField):
    """The ♡ checkboxes on the paper cards: any arXiv ids, each checked for its form."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "invalid_choice": "“%(value)s” is not an arXiv id.",
    }

    def valid_value(self, value: str) -> bool:
        return is_valid_arxiv_id(normalise_arxiv_id(str(value)))


class NormalisedEmailField(forms.EmailField):
    """Rejects line breaks and control characters, strips, lower-cases the domain."""

    default_validators = [*forms.EmailField.default_validators, validate_public_address]

    def to_python(self, value: Any) -> str:
        if isinstance(value, str) and _CONTROL_CHARS.search(value.strip()):
            raise ValidationError(
                "An email address can't contain line breaks or control characters.",
                code="control_chars",
            )
        cleaned = super().to_python(value)
        return normalise_email(cleaned) if cleaned else ""


def _split_list(text: str) -> list[str]:
    items = (item.strip() for item in _LIST_SEPARATORS.split(text))
    return list(dict.fromkeys(item for item in items if item))  # dedupe, keep order


def parse_paper_ids(text: str) -> list[str]:
    """arXiv ids or abs/pdf/HF URLs, one per line or comma-separated."""
    items = _split_list(text)
    if len(items) > MAX_PAPERS:
        raise ValidationError(f"List at most {MAX_PAPERS} papers (you gave {len(items)}).")
    ids = [normalise_arxiv_id(item) for item in items]
    unreadable = [item for item, id_ in zip(items, ids, strict=True) if not is_valid_arxiv_id(id_)]
    if unreadable:
        shown = ", ".join(unreadable[:5])
        raise ValidationError(
            f"These are not arXiv ids or arXiv/Hugging Face paper links: {shown}. "
            'Use ids like "2501.01234" or links like "https://arxiv.org/abs/2501.01234".'
        )
    return list(dict.fromkeys(ids))


def parse_authors(text: str) -> list[str]:
    authors = [" ".join(name.split()) for name in _split_list(text)]
    if len(authors) > MAX_AUTHORS:
        raise ValidationError(f"Follow at most {MAX_AUTHORS} authors (you gave {len(authors)}).")
    too_long = [name for name in authors if len(name) > MAX_AUTHOR_CHARS]
    if too_long:
        raise ValidationError(
            f"Each author name must be at most {MAX_AUTHOR_CHARS} characters; "
            f'shorten "{too_long[0][:40]}…".'
        )
    return authors


class HoneypotMixin(forms.Form):
    """A field hidden from people by CSS and filled in by naive bots."""

    website = forms.CharField(
        label="Leave this field empty",
        required=False,
        max_length=200,
        widget=FastTextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    @property
    def is_bot(self) -> bool:
        return bool(self.cleaned_data.get("website"))


class PreferencesFields(forms.Form):
    """What a subscriber chooses, on the signup form and on the preferences page."""

    interests = forms.CharField(
        label="Your interests",
        max_length=MAX_INTERESTS_CHARS,
        widget=FastTextarea(attrs={"rows": 3}),
        help_text='Keywords and phrases, comma-separated, e.g. "diffusion models, '
        'retrieval-augmented generation".',
        error_messages={"required": "Tell us at least one topic you want papers about."},
    )
    categories = SharedMultipleChoiceField(
        label="arXiv categories (optional)",
        choices=CATEGORY_CHOICES,
        required=False,
        widget=FastCheckboxSelectMultiple,
    )
    liked_papers = forms.CharField(
        label="Papers you like (optional)",
        required=False,
        max_length=MAX_LIST_TEXT_CHARS,
        widget=FastTextarea(attrs={"rows": 2}),
        help_text=f"arXiv ids or links, one per line or comma-separated (up to {MAX_PAPERS}).",
    )
    followed_authors = forms.CharField(
        label="Authors to follow (optional)",
        required=False,
        max_length=MAX_LIST_TEXT_CHARS,
        widget=FastTextarea(attrs={"rows": 2}),
        help_text=f"One name per line or comma-separated (up to {MAX_AUTHORS}).",
    )
    digest_size = SharedTypedChoiceField(
        label="Papers per digest",
        choices=[(n, str(n)) for n in DIGEST_SIZES],
        coerce=int,
        initial=10,
        widget=FastRadioSelect,
    )
    frequency = SharedChoiceField(
        label="How often",
        choices=Subscriber.Frequency.choices,
        initial=Subscriber.Frequency.DAILY,
        widget=FastRadioSelect,
    )
    weekday = SharedTypedChoiceField(
        label="Day of the week (weekly digests)",
        choices=list(enumerate(WEEKDAYS)),
        coerce=int,
        initial=0,
        widget=FastSelect,
    )
    send_hour = SharedTypedChoiceField(
        label="Send at (your local time)",
        choices=HOUR_CHOICES,
        coerce=int,
        initial=7,
        widget=FastSelect,
    )
    timezone = TimezoneField(
        label="Time zone", choices=TIMEZONE_CHOICES, initial="UTC", widget=TimezoneSelect
    )
    # The ♡ on the paper cards (checkboxes in this form, wherever they sit on the page);
    # clean() adds them to liked_papers.
    liked = PaperIdsField(required=False)

    # Shown first (a phone sees these and the Subscribe button without scrolling); the
    # rest fold away in a <details>.
    FIRST_FIELDS = ("email", "interests")
    HIDDEN_FIELDS: tuple[str, ...] = ("website", "liked")

    def first_fields(self) -> list[FieldRow]:
        return [_row(self[name]) for name in self.FIRST_FIELDS if name in self.fields]

    def folded_fields(self) -> list[FieldRow]:
        skip = {*self.FIRST_FIELDS, *self.HIDDEN_FIELDS}
        return [_row(self[name]) for name in self.fields if name not in skip]

    def liked_ids(self) -> set[str]:
        """The papers whose ♡ shows as ticked: what was posted, or what was liked before."""
        if self.is_bound:
            posted = self.data.getlist("liked") if hasattr(self.data, "getlist") else ()
            return {normalise_arxiv_id(str(v)) for v in posted}
        return set(self.initial.get("liked", ()))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "shown" in cleaned:
            cleaned["shown"] = [normalise_arxiv_id(v) for v in cleaned["shown"]]
        hearts = [normalise_arxiv_id(v) for v in cleaned.pop("liked", None) or ()]
        if "liked_papers" in cleaned:
            merged = list(dict.fromkeys([*cleaned["liked_papers"], *hearts]))
            if len(merged) > MAX_PAPERS:
                self.add_error(
                    "liked_papers", f"Like at most {MAX_PAPERS} papers (you chose {len(merged)})."
                )
            cleaned["liked_papers"] = merged
        return cleaned

    def clean_interests(self) -> str:
        interests: str = self.cleaned_data["interests"]
        return interests.strip()

    def clean_liked_papers(self) -> list[str]:
        return parse_paper_ids(self.cleaned_data.get("liked_papers", ""))

    def clean_followed_authors(self) -> list[str]:
        return parse_authors(self.cleaned_data.get("followed_authors", ""))


class SignupForm(HoneypotMixin, PreferencesFields):
    # Field order: the address first, then the preferences.
    field_order = ["email"]

    email = NormalisedEmailField(
        label="Email address",
        max_length=254,
        widget=FastEmailInput(attrs={"autocomplete": "email"}),
        error_messages={"required": "Enter your email address."},
    )

    def preferences(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("email")
        data.pop("website")
        return data


class PreferencesForm(PreferencesFields):
    paused_until = forms.DateField(
        label="Pause until (optional)",
        required=False,
        widget=SiteDateInput(attrs={"placeholder": "24 December 2026", "autocomplete": "off"}),
        input_formats=DATE_INPUT_FORMATS,
        help_text="No digests until this date, e.g. 24 December 2026. Leave empty to keep "
        "them coming.",
        error_messages={"invalid": "Write the date like 24 December 2026 (or 2026-12-24)."},
    )

    # The ids of the cards the page showed, so an unticked ♡ can un-like its paper.
    shown = PaperIdsField(required=False)
    HIDDEN_FIELDS = ("website", "liked", "shown")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["liked_papers"].label = "Add papers you like (optional)"

    def clean_paused_until(self) -> Any:
        day = self.cleaned_data.get("paused_until")
        today = timezone.localdate()
        if day is None:
            return None
        if day <= today:
            raise ValidationError("Pick a date after today, or leave it empty.")
        if day > today + timedelta(days=MAX_PAUSE_DAYS):
            raise ValidationError(f"You can pause for at most {MAX_PAUSE_DAYS} days.")
        return day

    @staticmethod
    def initial_for(subscriber: Subscriber) -> dict[str, Any]:
        return {
            "interests": subscriber.interests,
            "categories": subscriber.categories,
            "followed_authors": "\n".join(subscriber.followed_authors),
            "digest_size": subscriber.digest_size,
            "frequency": subscriber.frequency,
            "weekday": subscriber.weekday,
            "send_hour": subscriber.send_hour,
            "timezone": subscriber.timezone,
            "paused_until": subscriber.paused_until,
        }


class ManageLinkRequestForm(HoneypotMixin, forms.Form):
    email = NormalisedEmailField(
        label="Email address",
        max_length=254,
        widget=FastEmailInput(attrs={"autocomplete": "email"}),
        error_messages={"required": "Enter the address you subscribed with."},
    )
