# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""A generated web crawl for the miniature mining run: math worksheet pages among news, sport, recipe and travel
pages, from a handful of domains, with exact and near duplicates and a few pages that copy held-out problems
(so deduplication and decontamination have something to find).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from trl_dsm.demo.problems import Problem


_MATH_DOMAINS = ("mathpractice.example.org", "worksheets.example.com", "homework-help.example.net")
_OTHER_DOMAINS = ("dailynews.example.com", "sportsdesk.example.org", "kitchen.example.net", "travelnotes.example.com")
# A general site whose /math/ section is math: domain discovery should find the prefix.
_MIXED_DOMAIN = "learninghub.example.org"

_TEAMS = ("Rovers", "Falcons", "Tigers", "United", "Wanderers", "Comets", "Harbor City", "Northside")
_CITIES = ("Lisbon", "Kyoto", "Denver", "Nairobi", "Oslo", "Lima", "Hanoi", "Porto", "Quebec", "Seville")
_FOODS = ("lentil soup", "banana bread", "tomato salad", "fried rice", "apple pie", "pancakes", "fish tacos")
_TOPICS = ("the city council", "the new library", "a local bakery", "the school board", "the river festival",
           "the railway company", "a community garden", "the harbor authority")  # fmt: skip


def _news(rng: random.Random) -> tuple[str, str]:
    topic, city = rng.choice(_TOPICS), rng.choice(_CITIES)
    sentences = [
        f"{topic.capitalize()} in {city} announced new plans on {rng.choice(['Monday', 'Tuesday', 'Friday'])}.",
        f"Officials said the project would open in {rng.randint(2026, 2030)} after a long public debate.",
        f"About {rng.randint(2, 90) * 100} residents attended the meeting, according to organizers.",
        "Critics argued that the budget was unclear and asked for more consultation with neighbors.",
        f"The mayor of {city} thanked volunteers and promised an update later this year.",
        "Local shops expect more visitors once the work is finished, a spokesperson said.",
    ]
    rng.shuffle(sentences)
    return f"{topic.title()} unveils plans", " ".join(sentences[: rng.randint(4, 6)])


def _sport(rng: random.Random) -> tuple[str, str]:
    home, away = rng.sample(_TEAMS, 2)
    a, b = rng.randint(0, 5), rng.randint(0, 5)
    sentences = [
        f"The {home} beat the {away} {max(a, b)}-{min(a, b)} on a rainy night at the stadium.",
        f"The coach praised the defense after the {rng.choice(['first', 'second'])} half.",
        f"A crowd of {rng.randint(5, 60)} thousand fans watched the game.",
        "The striker scored twice and was named player of the match.",
        f"Next week the {home} travel to {rng.choice(_CITIES)} for the cup semifinal.",
    ]
    rng.shuffle(sentences)
    return f"{home} against {away}", " ".join(sentences)


def _recipe(rng: random.Random) -> tuple[str, str]:
    food = rng.choice(_FOODS)
    sentences = [
        f"This {food} is ready in {rng.randint(2, 9) * 5} minutes and serves {rng.randint(2, 8)} people.",
        f"Heat the oven to {rng.choice([180, 200, 220])} degrees and prepare a large bowl.",
        f"Mix {rng.randint(1, 4)} cups of flour with a pinch of salt and a spoon of sugar.",
        "Stir gently, taste, and season with pepper before serving warm.",
        "Leftovers keep in the fridge for two days.",
    ]
    return f"How to make {food}", " ".join(sentences)


def _travel(rng: random.Random) -> tuple[str, str]:
    city = rng.choice(_CITIES)
    sentences = [
        f"{city} is a wonderful place to spend a long weekend in {rng.choice(['spring', 'autumn', 'winter'])}.",
        "Start with a walk through the old town and stop for coffee near the main square.",
        f"The museum opens at {rng.randint(8, 10)} in the morning and tickets are cheap.",
        "In the evening, the river banks fill with music and street food.",
        "Trains from the airport run every twenty minutes.",
    ]
    rng.shuffle(sentences)
    return f"A weekend in {city}", " ".join(sentences)


def _worksheet(problems: Sequence[Problem], rng: random.Random) -> tuple[str, str]:
    intro = rng.choice(
        [
            "Practice these word problems. Work out each step, then check your answer.",
            "Worked examples: read each problem, write one calculation per line, and find the answer.",
            "Homework help: multi-step arithmetic word problems with full solutions.",
        ]
    )
    parts = [intro]
    for i, problem in enumerate(problems, 1):
        parts.append(f"Problem {i}. {problem.question}\nSolution.\n{problem.solution}")
    return "Arithmetic word problems", "\n\n".join(parts)


def generate_web_pages(
    problems: Sequence[Problem],
    n_math: int = 300,
    n_other: int = 600,
    problems_per_page: int = 4,
    contaminated: Sequence[Problem] = (),
    n_duplicates: int = 40,
    seed: int = 0,
) -> list[dict]:
    """Pages as ``{"url", "title", "text", "kind"}`` (``kind`` is the ground truth: ``math`` / ``other``).

    ``problems`` fill the math pages; each of ``contaminated`` (held-out problems) is copied into one math page,
    for decontamination to find; ``n_duplicates`` pages are repeated, half verbatim under another URL spelling
    (``http://`` / trailing slash / ``utm_`` parameter) and half with a sentence changed (near duplicates).
    """
    rng = random.Random(seed)
    pages: list[dict] = []
    pool = list(problems)
    rng.shuffle(pool)
    planted = list(contaminated)
    if len(planted) > n_math:
        raise ValueError(f"cannot plant {len(planted)} contaminated problems in {n_math} math pages")
    spacing = max(1, n_math // max(1, len(planted)))
    for i in range(n_math):
        chunk = [pool[(i * problems_per_page + j) % len(pool)] for j in range(problems_per_page)] if pool else []
        if planted and i % spacing == 0:
            chunk[rng.randrange(len(chunk))] = planted.pop()
        title, text = _worksheet(chunk, rng)
        if i % 5 == 4:  # the mixed domain's math section
            url = f"https://{_MIXED_DOMAIN}/math/word-problems/set-{i}"
        else:
            url = f"https://{rng.choice(_MATH_DOMAINS)}/arithmetic/multi-step/{i}"
        pages.append({"url": url, "title": title, "text": text, "kind": "math"})
    makers = (_news, _sport, _recipe, _travel)
    for i in range(n_other):
        maker = makers[i % len(makers)]
        title, text = maker(rng)
        if i % 7 == 6:  # the mixed domain's other sections
            url = f"https://{_MIXED_DOMAIN}/{maker.__name__.strip('_')}/{i}"
        else:
            url = f"https://{_OTHER_DOMAINS[i % len(_OTHER_DOMAINS)]}/{maker.__name__.strip('_')}/{i}"
        pages.append({"url": url, "title": title, "text": text, "kind": "other"})
    originals = rng.sample(pages, min(n_duplicates, len(pages)))
    for j, page in enumerate(originals):
        copy = dict(page)
        if j % 2 == 0:
            copy["url"] = page["url"].replace("https://", "http://") + "/?utm_source=feed"
        else:
            copy["url"] = page["url"] + f"-mirror{j}"
            copy["text"] = page["text"] + " Shared from our archive."
        pages.append(copy)
    rng.shuffle(pages)
    return pages
