"""Counterfactual training rows that take apart the shortcuts a model learns from the corpora.

Hateful rows name a group far more often than clean ones, threats say "you ... your ..." and the background
chat rarely names a group, a country or a weapon, so a model can score "a group is named" as hate and
"your apartment" as a threat. Each rule here makes clean rows that keep the cue and drop the harm, from
sentences the corpora already hold rather than from hand-written examples:

- ``group_swap``: a clean sentence that names a group, a country, a city or a food, again with another
  term of the same kind ("the Chinese team" → "the Nigerian team");
- ``group_subject``: a clean sentence about "people" told about a group instead, where nothing in it
  judges ("a lot of people watch it" → "a lot of Muslims watch it");
- ``your_noun``: "the / my / his ... house, car, phone ..." in a clean sentence made "your ...", a home or a
  relative swapped for another of its kind ("my flat" can be "your apartment"), and the nouns balanced so that
  "your game" (common in chat) does not crowd out "your house" (rare there, common in threats);
- ``place_swap``: a place named after "in / to / from / at / near" in a clean sentence, again with a place
  from elsewhere in the world ("we flew to Denver" → "we flew to Chengdu");
- ``idiom_verb``: "I'll / I'm going to / gonna <verb> the / this / my <thing>", or a plain "<verb> the server /
  this game / my drive ...", in a clean sentence, with a violent verb in its place ("I'm going to finish this
  essay" → "I'm going to kill this essay", "just restart the server" → "just nuke the server"): a violent
  verb aimed at a thing, next to the corpora's threats that aim the same verbs at a person;
- ``negated``: a hateful "<group> are <claim>" statement negated ("... are not ...");
- ``quoted``: a hateful or threatening row quoted in order to condemn or report it.

Rules run on the training split only, with a fixed seed, so nothing generated repeats a validation row.
Sentences with judging or violent words are never turned into clean group statements: "people are lazy"
with a group in it is not clean.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator

import pandas as pd

from bot.labels import LABELS
from bot.scoring.normalize import match_key
from training.sources._common import CLEAN, NOT_BACKGROUND

SOURCE = "counterfactual"

# Clean sources whose sentences are rewritten; hateful and threatening rows come from every source.
# Only corpora whose clean rows are plainly benign: the "clean" rows of hate-adjacent corpora (Stormfront,
# Gab) are often hostile in ways their annotators did not mark, and a group swapped into them is not clean.
CLEAN_BASES = ("topical_chat", "ubuntu_irc", "toxigen")

TERMS: dict[str, tuple[str, ...]] = {
    "demonym": (
        "Chinese", "Japanese", "Korean", "Indian", "Mexican", "American", "British", "French", "German", "Russian",
        "Italian", "Irish", "Brazilian", "Nigerian", "Pakistani", "Vietnamese", "Filipino", "Canadian",
        "Australian", "Spanish", "Polish", "Turkish", "Iranian", "Egyptian", "Kenyan", "Swedish", "Greek",
        "Ukrainian", "Cuban", "Thai", "Arab", "African", "Asian", "European", "Latino", "Hispanic",
    ),
    "people": (
        "women", "men", "girls", "boys", "Muslims", "Christians", "Jews", "Hindus", "Buddhists", "Sikhs",
        "Catholics", "atheists", "immigrants", "refugees", "gay people", "lesbians", "trans people",
        "black people", "white people", "Asians", "Mexicans", "Africans", "Arabs", "disabled people",
        "old people", "teenagers", "Chinese people", "Indians", "Jewish people", "Latinos",
    ),
    "country": (
        "China", "Japan", "Korea", "India", "Mexico", "America", "Britain", "France", "Germany", "Russia",
        "Italy", "Ireland", "Brazil", "Nigeria", "Pakistan", "Vietnam", "Canada", "Australia", "Spain",
        "Poland", "Turkey", "Iran", "Egypt", "Kenya", "Sweden", "Greece", "Ukraine", "Cuba", "Israel",
        "Palestine", "Saudi Arabia", "Ethiopia", "Ghana", "Peru", "Chile", "Morocco",
    ),
    "city": (
        "Beijing", "Shanghai", "Tokyo", "Seoul", "Mumbai", "Delhi", "Lagos", "Cairo", "Karachi", "Istanbul",
        "Tehran", "Mexico City", "Paris", "Berlin", "Madrid", "Rome", "London", "Dublin", "Warsaw", "Kyiv",
        "Moscow", "Chicago", "Detroit", "Atlanta", "Houston", "Nairobi", "Jakarta", "Manila", "Hanoi",
        "Bangkok", "Jerusalem", "Gaza", "Havana", "Lima", "Toronto", "Sydney",
    ),
    "food": (
        "apples", "bananas", "mangoes", "oranges", "tacos", "sushi", "dumplings", "kimchi", "curry", "noodles",
        "burritos", "bagels", "falafel", "hummus", "tortillas", "croissants", "pierogi", "baklava", "plantains",
        "coconuts", "limes", "papayas", "watermelons", "fried chicken", "rice", "lentils",
    ),
}

EVERYDAY_NOUNS = ("house", "home", "car", "apartment", "address", "phone", "room", "office", "family", "kids",
                  "dog", "cat", "door", "bike", "school", "job", "street", "neighborhood", "parents", "mom", "dad",
                  "wife", "husband", "brother", "sister", "son", "daughter", "friends", "team", "computer",
                  "laptop", "account", "birthday", "wedding", "trip", "flight", "hotel", "ticket", "order",
                  "alarm", "keys", "bag", "garden", "yard", "kitchen", "building", "city", "town", "country",
                  "hair", "face", "hands", "head", "body", "life", "name", "number", "email", "password",
                  "system", "machine", "server", "files", "drive", "card", "money", "bank", "doctor", "teacher",
                  "boss", "class", "game", "favorite", "opinion", "question", "idea")

PLACES = (
    "Chengdu", "Hangzhou", "Nanjing", "Sanlitun", "Xidan", "Haidian", "Chaoyang", "Guangzhou", "Wuhan", "Xi'an",
    "Qingdao", "Kunming", "Busan", "Incheon", "Gangnam", "Osaka", "Kyoto", "Shinjuku", "Bandra", "Koramangala",
    "Chennai", "Lahore", "Dhaka", "Kathmandu", "Colombo", "Ikeja", "Soweto", "Accra", "Kampala", "Addis Ababa",
    "Dakar", "Casablanca", "Tunis", "Zamalek", "Deira", "Muscat", "Doha", "Beirut", "Tbilisi", "Yerevan",
    "Almaty", "Tashkent", "Ulaanbaatar", "Medellin", "Guadalajara", "Oaxaca", "Tijuana", "Bogota", "Quito",
    "Recife", "Salvador", "Kingston", "Port-au-Prince", "San Juan", "Harlem", "Compton", "Chinatown",
    "Little Havana", "Gdansk", "Krakow", "Bucharest", "Sofia", "Sarajevo", "Marseille", "Naples", "Glasgow",
)
# Nouns a threat names after "your" ("I know where your house is"), each swapped only within its kind.
YOUR_KINDS: tuple[tuple[str, ...], ...] = (
    ("house", "home", "apartment", "room", "office", "car", "bike", "door", "building", "address", "street",
     "neighborhood", "garden", "yard", "kitchen", "hotel", "school"),
    ("family", "kids", "wife", "husband", "mom", "dad", "son", "daughter", "parents", "brother", "sister",
     "friends", "dog", "cat"),
)
IDIOM_VERBS = ("kill", "murder", "destroy", "crush", "smash", "nail", "slay", "wreck", "shoot", "butcher", "nuke")
# Verbs of everyday tasks whose object is a thing: the plain "<verb> the <thing>" the idiom rule rewrites.
TASK_VERBS = ("play", "fix", "finish", "try", "run", "install", "update", "watch", "check", "use", "start", "open",
              "clean", "format", "reinstall", "delete", "remove", "restart", "reboot", "test", "edit", "write",
              "beat", "win", "do", "upgrade", "build", "compile", "sing", "cook", "record")
TASK_THINGS = ("game", "server", "system", "drive", "disk", "partition", "machine", "computer", "laptop", "box",
               "kernel", "file", "files", "install", "update", "test", "exam", "level", "boss", "match", "song",
               "movie", "show", "episode", "book", "essay", "paper", "presentation", "project", "code", "script",
               "bug", "process", "job", "build", "thing", "setup", "config", "database", "round", "race")
_THINGS = ("the", "this", "that", "my", "our", "it", "these", "those")

# Words that judge, sneer or hurt: a sentence holding one is not rewritten into a clean group statement.
_JUDGING = re.compile(
    r"\b(?:stupid|dumb|idiot\w*|lazy|dirty|disgusting|ugly|evil|criminal\w*|terroris\w*|inferior|superior|"
    r"hate\w*|kill\w*|die|dead|death|murder\w*|shoot\w*|gun\w*|bomb\w*|rape\w*|attack\w*|destroy\w*|burn\w*|"
    r"violent|violence|steal\w*|thie\w*|illegal\w*|deport\w*|ban\w*|should\w*|must|never|always|all of them|"
    r"those|these|they.re|smell\w*|animal\w*|weird|crazy|worst|bad|wrong|fault|blame\w*|problem\w*|annoying|rude|"
    r"scary|sick|gross|trash|suck\w*|pathetic|lame|cheap|loud)\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(?:not|no|never|n't|nobody|none)\b|n't\b", re.IGNORECASE)
_GROUP_CLAIM = re.compile(r"^(?P<subject>(?:all |most |the )?[\w' -]{2,40}?) (?P<verb>are|is) (?P<rest>\w.*)$",
                          re.IGNORECASE)

QUOTE_FRAMES = (
    'someone in general just posted "{s}", can a mod deal with it?',
    'reporting this message: "{s}"',
    '"{s}" is exactly the kind of thing we don\'t allow here',
    'I can\'t believe people still say stuff like "{s}"',
    'a new member got told "{s}" in DMs, please look into it',
    'saying "{s}" is bigoted and wrong',
    'screenshotting "{s}" for the mods, that\'s not ok',
    'why would anyone write "{s}"? that is hateful',
)

_MAX_WORDS = 30


def _terms_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = sorted((re.escape(t) for t in terms), key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


_TERM_PATTERNS = {kind: _terms_pattern(terms) for kind, terms in TERMS.items()}
_PEOPLE = re.compile(r"\bpeople\b")
_THE_NOUN = re.compile(r"\b(?:the|my|his|her|their|our|a) (" + "|".join(EVERYDAY_NOUNS) + r")\b",
                       re.IGNORECASE)
_PLACE = re.compile(r"\b(in|to|from|at|near|around|visit|visited|visiting) ((?:[A-Z][a-z]+)(?: [A-Z][a-z]+)?)\b")
_PLAN = re.compile(r"\b(I'll|I will|I'm going to|Im going to|im going to|i'm going to|gonna|going to|let's|lets|"
                   r"I'm gonna|i'm gonna|i'll|i will) (\w+) (" + "|".join(_THINGS) + r")\b")
_TASK = re.compile(r"\b(" + "|".join(TASK_VERBS) + r") (?:the|this|that|my|our|your|a) (?:" + "|".join(TASK_THINGS) +
                   r")\b", re.IGNORECASE)
_NOT_PLACES = frozenset({"The", "This", "That", "My", "Our", "I", "It", "You", "He", "She", "They", "We", "A",
                         "An", "Yes", "No", "What", "How", "Why", "When", "Where", "Ubuntu", "Linux", "Windows"})


def _cased(replacement: str, original: str) -> str:
    """The replacement in the original's case where that is visible (all lower, or capitalised)."""
    if original.islower() and not replacement[:1].isupper():
        return replacement
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def group_swap(text: str, rng: random.Random) -> str | None:
    """The `group_swap` rule: the first group, country, city or food named, swapped for another of its kind; None when
    none is named."""
    for kind, pattern in _TERM_PATTERNS.items():
        match = pattern.search(text)
        if match is None:
            continue
        choices = [t for t in TERMS[kind] if t.lower() != match.group(0).lower()]
        new = _cased(rng.choice(choices), match.group(0))
        return text[: match.start()] + new + text[match.end():]
    return None


def group_subject(text: str, rng: random.Random) -> str | None:
    """The `group_subject` rule: "people" replaced by a group; None without "people"."""
    match = _PEOPLE.search(text)
    if match is None:
        return None
    return text[: match.start()] + rng.choice(TERMS["people"]) + text[match.end():]


def your_noun(text: str, rng: random.Random) -> str | None:
    """The `your_noun` rule: "the / my / ... <everyday noun>" made "your <noun>"; None without one."""
    match = _THE_NOUN.search(text)
    if match is None:
        return None
    noun = match.group(1)
    kind = next((k for k in YOUR_KINDS if noun.lower() in k), None)
    if kind is not None:
        noun = rng.choice(kind)
    return text[: match.start()] + ("Your " if match.group(0)[0].isupper() else "your ") + noun + text[match.end():]


def place_swap(text: str, rng: random.Random) -> str | None:
    """The `place_swap` rule: a place after "in / to / from ..." swapped for one elsewhere in the world; None without
    one."""
    match = _PLACE.search(text)
    if match is None or match.group(2).split()[0] in _NOT_PLACES:
        return None
    return text[: match.start(2)] + rng.choice(PLACES) + text[match.end(2):]


def idiom_verb(text: str, rng: random.Random) -> str | None:
    """The `idiom_verb` rule: the verb of "I'm going to <verb> the <thing>" made a violent one; None without such a
    plan."""
    match = _PLAN.search(text)
    if match is not None and match.group(2).lower() not in IDIOM_VERBS:
        return text[: match.start(2)] + rng.choice(IDIOM_VERBS) + text[match.end(2):]
    task = _TASK.search(text)
    if task is None:
        return None
    return text[: task.start(1)] + rng.choice(IDIOM_VERBS) + text[task.end(1):]


def negated(text: str, rng: random.Random) -> str | None:
    """Only a one-clause claim ("<group> are <claim>"): negating the first verb of a longer rant leaves the
    rest of it ("... are not X, they Y") as hateful as before."""
    match = _GROUP_CLAIM.match(text.strip())
    if (match is None or _NEGATION.search(text) or NOT_BACKGROUND.search(text) or len(text.split()) > 10
            or re.search(r"[,;:!?]|\.\s*\w|\b(?:and|but|they|them|so|because)\b", match["rest"], re.IGNORECASE)
            or len(match["subject"].split()) > 3 or len(match["rest"].split()) > 4
            or re.search(r"\ball\b", match["rest"], re.IGNORECASE)
            or not _TERM_PATTERNS["people"].search(match["subject"])):
        return None
    return f"{match['subject']} {match['verb']} not {match['rest']}"


def quoted(text: str, rng: random.Random) -> str | None:
    """The `quoted` rule: a harmful text quoted in a sentence that condemns or reports it."""
    return rng.choice(QUOTE_FRAMES).format(s=text.strip().strip('"'))


CleanRule = Callable[[str, random.Random], str | None]
CLEAN_RULES: dict[str, CleanRule] = {"group_swap": group_swap, "group_subject": group_subject, "your_noun": your_noun,
                                     "place_swap": place_swap, "idiom_verb": idiom_verb}


def _short(text: str) -> bool:
    return 2 <= len(text.split()) <= _MAX_WORDS


def generate(train: pd.DataFrame, seed: int = 13, per_rule: int = 2000) -> pd.DataFrame:
    """Clean counterfactual rows from the training split, at most ``per_rule`` a rule, with a ``rule`` column.

    Rows whose normalised text is already in ``train`` are dropped: the corpora's own label wins.
    """
    rng = random.Random(seed)  # noqa: S311 - a seeded sample, reproducible by design; nothing secret
    texts, sources = train["text"].astype(str), train["source"].astype(str)
    clean = (train[list(LABELS)].fillna(0.0) == 0.0).all(axis=1) & sources.str.split(":").str[0].isin(CLEAN_BASES)
    benign = [t for t in texts[clean] if _short(t) and not _JUDGING.search(t) and not NOT_BACKGROUND.search(t)]
    hateful = [t for t in texts[(train["identity_hate"] == 1.0)] if _short(t)]
    harmful = [t for t in texts[(train["identity_hate"] == 1.0) | (train["threat"] == 1.0)]
               if _short(t) and len(t.split()) <= 20]

    rows: list[tuple[str, str]] = []
    for name, rule in CLEAN_RULES.items():
        made = _noun_balanced(benign, rng, per_rule) if rule is your_noun else _applied(rule, benign, rng, per_rule)
        rows += [(name, t) for t in made]
    rows += [("negated", t) for t in _applied(negated, hateful, rng, per_rule)]
    rows += [("quoted", t) for t in _applied(quoted, harmful, rng, per_rule)]

    seen = {match_key(t) for t in texts}
    kept, keys = [], set()
    for name, text in rows:
        key = match_key(text)
        if key and key not in seen and key not in keys:
            keys.add(key)
            kept.append((name, text))
    return pd.DataFrame([{"text": t, "source": SOURCE, **CLEAN, "rule": r} for r, t in kept],
                        columns=["text", "source", *LABELS, "rule"])


_YOUR = re.compile(r"\b[Yy]our (\w+)")
_VARIANTS = 6  # rewrites of each sentence naming a home or a relative: they are rare in chat


def _noun_balanced(texts: list[str], rng: random.Random, limit: int) -> list[str]:
    """`your_noun` rows taken in turn from each noun, so that no noun crowds out the others."""
    by_noun: dict[str, list[str]] = {}
    kinds = {noun for kind in YOUR_KINDS for noun in kind}
    for text in texts:
        match = _THE_NOUN.search(text)
        if match is None:
            continue
        for _ in range(_VARIANTS if match.group(1).lower() in kinds else 1):
            out = your_noun(text, rng)
            noun = _YOUR.search(out) if out else None
            if out and noun:
                by_noun.setdefault(noun.group(1).lower(), []).append(out)
    queues = [list(dict.fromkeys(made)) for _, made in sorted(by_noun.items())]
    for queue in queues:
        rng.shuffle(queue)
    taken: list[str] = []
    while queues and len(taken) < limit:
        taken += [queue.pop() for queue in queues][: limit - len(taken)]
        queues = [queue for queue in queues if queue]
    return taken


def _applied(rule: Callable[[str, random.Random], str | None], texts: list[str], rng: random.Random,
             limit: int) -> Iterator[str]:
    order = list(range(len(texts)))
    rng.shuffle(order)
    made = 0
    for i in order:
        if made >= limit:
            return
        out = rule(texts[i], rng)
        if out is not None and out != texts[i]:
            made += 1
            yield out
