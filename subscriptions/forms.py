"""The public forms: signup, preferences, and "email me a manage link".

Every field has a length limit, every list a size limit, and every error message says
what to change. Forms only validate and normalise; services do the writing.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

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
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    @property
    def is_bot(self) -> bool:
        return bool(self.cleaned_data.get("website"))


class PreferencesFields(forms.Form):
    """What a subscriber chooses, on the signup form and on the preferences page."""

    interests = forms.CharField(
        label="Your interests",
        max_length=MAX_INTERESTS_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='Keywords and phrases, comma-separated, e.g. "diffusion models, '
        'retrieval-augmented generation".',
        error_messages={"required": "Tell us at least one topic you want papers about."},
    )
    categories = forms.MultipleChoiceField(
        label="arXiv categories (optional)",
        choices=CATEGORY_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    liked_papers = forms.CharField(
        label="Papers you like (optional)",
        required=False,
        max_length=MAX_LIST_TEXT_CHARS,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=f"arXiv ids or links, one per line or comma-separated (up to {MAX_PAPERS}).",
    )
    followed_authors = forms.CharField(
        label="Authors to follow (optional)",
        required=False,
        max_length=MAX_LIST_TEXT_CHARS,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=f"One name per line or comma-separated (up to {MAX_AUTHORS}).",
    )
    digest_size = forms.TypedChoiceField(
        label="Papers per digest",
        choices=[(n, str(n)) for n in DIGEST_SIZES],
        coerce=int,
        initial=10,
        widget=forms.RadioSelect,
    )
    frequency = forms.ChoiceField(
        label="How often",
        choices=Subscriber.Frequency.choices,
        initial=Subscriber.Frequency.DAILY,
        widget=forms.RadioSelect,
    )
    weekday = forms.TypedChoiceField(
        label="Day of the week (weekly digests)",
        choices=list(enumerate(WEEKDAYS)),
        coerce=int,
        initial=0,
    )
    send_hour = forms.TypedChoiceField(
        label="Send at (your local time)", choices=HOUR_CHOICES, coerce=int, initial=7
    )
    timezone = forms.ChoiceField(label="Time zone", choices=TIMEZONE_CHOICES, initial="UTC")

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
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
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
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        help_text="No digests until this date (YYYY-MM-DD). Leave empty to keep them coming.",
    )

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
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        error_messages={"required": "Enter the address you subscribed with."},
    )
