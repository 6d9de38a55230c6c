from __future__ import annotations

from datetime import date

import factory
from django.utils import timezone

from digest.models import Paper, PaperTrend
from subscriptions.models import Subscriber


class SubscriberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscriber

    email = factory.Sequence(lambda n: f"reader{n}@example.com")
    status = Subscriber.Status.ACTIVE
    interests = "diffusion models, retrieval-augmented generation"
    confirmed_at = factory.LazyFunction(timezone.now)


class PaperFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Paper

    arxiv_id = factory.Sequence(lambda n: f"2607.{10000 + n:05d}")
    title = factory.Sequence(lambda n: f"A study of diffusion models, part {n}")
    abstract = "We study diffusion models for video generation."
    authors = factory.LazyFunction(lambda: ["Ada Lovelace", "Alan Turing"])
    upvotes = 10


class PaperTrendFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PaperTrend

    paper = factory.SubFactory(PaperFactory)
    day = factory.LazyFunction(date.today)
    source = "hf_api"
    rank = factory.Sequence(lambda n: n + 1)
    upvotes = factory.SelfAttribute("paper.upvotes")
