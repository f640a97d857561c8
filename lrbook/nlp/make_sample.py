r"""Write the small sentiment sample shipped with lrbook (``lrbook/data/sentiment_sample``).

The sample has the exact formats of the real data, so that the unit tests (and a
reader without network) exercise the real loaders:

- ``SST-2/train.tsv`` (400 sentences) and ``SST-2/dev.tsv`` (100 sentences): GLUE
  TSV, header ``sentence<TAB>label``, lower-case tokenized sentences about films;
- ``glove.sample.100d.txt``: GloVe text format, one ``word v1 ... v100`` per line,
  for the words of the sentences (most frequent first) and a few extra words. The
  actors' names (``kwenzi``, ``marlowe-tibb`` ...) get no vector, as rare words miss
  from the real GloVe vocabulary.

The sentences are written by this script from templates and word lists (not copied
from SST); the vectors are random with a planted sentiment direction (positive
words on one side, negative ones on the other). Run
``python -m lrbook.nlp.make_sample [folder]`` to (re)write the files; the output is
the same on every run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SEED = 20200611
N_TRAIN, N_DEV = 400, 100
DIM = 100

POSITIVE = ["charming", "moving", "funny", "brilliant", "wonderful", "gripping", "delightful", "smart",
            "beautiful", "touching", "witty", "clever", "engaging", "memorable", "heartfelt", "stunning",
            "fresh", "powerful", "thoughtful", "entertaining", "warm", "lovely", "sharp", "inventive",
            "elegant", "tender", "hilarious", "superb", "absorbing", "graceful", "vivid", "joyous",
            "haunting", "playful", "assured", "luminous", "riveting", "sincere", "rich", "generous",
            "exhilarating", "poignant", "masterful", "spirited", "radiant"]
NEGATIVE = ["dull", "tedious", "boring", "clumsy", "bland", "lifeless", "predictable", "pointless",
            "shallow", "tiresome", "forgettable", "messy", "awkward", "flat", "silly", "stale", "hollow",
            "overlong", "unfunny", "sloppy", "lazy", "dreary", "muddled", "painful", "mediocre", "bloated",
            "stiff", "cheap", "joyless", "limp", "tired", "incoherent", "grating", "listless", "hackneyed",
            "plodding", "sluggish", "vapid", "contrived", "turgid", "insipid", "ugly", "murky", "trite",
            "numbing"]
INTENSIFIERS = ["very", "truly", "remarkably", "rather", "utterly", "genuinely", "consistently", "often"]
SUBJECTS = ["the film", "this movie", "the story", "the cast", "the script", "the direction",
            "the performances", "its soundtrack", "the ending", "the dialogue", "the plot",
            "the director 's latest", "the photography", "the screenplay", "the lead", "the humor",
            "the final act", "the first hour", "the editing", "the score", "the villain", "the costumes",
            "the special effects", "the pacing", "the romance", "the central mystery", "the young star",
            "the supporting cast", "the production design", "the opening scene", "the climax",
            "the narration", "the premise", "the second half"]
NOUNS = ["film", "movie", "comedy", "drama", "thriller", "story", "picture", "debut", "documentary",
         "romance", "mystery", "satire", "sequel", "adventure", "portrait", "fable", "western", "musical",
         "melodrama", "biopic", "remake", "farce", "epic", "caper", "fantasy", "tragedy", "parable",
         "chronicle", "spectacle", "yarn"]
NAMES = ["kwenzi", "marlowe-tibb", "ostrava", "delacroixe", "fenwythe"]
ROLES = ["detective", "widow", "teacher", "soldier", "painter", "mother", "king", "thief", "doctor",
         "boxer", "priest", "pilot"]
POS_VP = ["keeps you watching", "earns its tears", "rewards patience", "finds its heart",
          "never misses a beat", "lingers in the memory", "wins you over", "sweeps you along",
          "makes every minute count", "surprises at every turn", "leaves you smiling"]
NEG_VP = ["drags on and on", "goes nowhere", "wastes its cast", "falls apart", "runs out of ideas",
          "feels like a chore", "never comes alive", "tests your patience", "collapses under its weight",
          "forgets its own point", "leaves you cold"]
EXTRA_WORDS = ["cinema", "popcorn", "theater", "audience", "critic", "ticket", "screen", "premiere",
               "festival", "actor", "actress", "scene", "camera", "studio", "trailer", "review", "sequence",
               "character", "budget", "genre", "novel", "season", "episode", "series", "drive-in",
               "matinee"]


def _sentence(rng: np.random.Generator) -> tuple[str, int]:
    """One tokenized sentence and its label (1 positive, 0 negative)."""
    def adj(pos: bool) -> str:
        return str(rng.choice(POSITIVE if pos else NEGATIVE))

    pos = bool(rng.random() < 0.5)
    kind = int(rng.integers(0, 10))
    subj, noun = str(rng.choice(SUBJECTS)), str(rng.choice(NOUNS))
    if kind == 0:
        s = f"{subj} is {rng.choice(INTENSIFIERS)} {adj(pos)} ."
    elif kind == 1:                                   # negation flips the adjective
        s = f"{subj} is not {adj(not pos)} ."
    elif kind == 2:
        s = f"{subj} is {adj(pos)} and {adj(pos)} ."
    elif kind == 3:
        s = f"a {adj(pos)} , {adj(pos)} {noun} ."
    elif kind == 4:                                   # the clause after "but" decides
        other = str(rng.choice([x for x in SUBJECTS if x != subj]))
        s = f"{subj} is {adj(not pos)} , but {other} is {rng.choice(INTENSIFIERS)} {adj(pos)} ."
    elif kind == 5:
        s = f"it 's a {adj(pos)} {noun} that {rng.choice(POS_VP if pos else NEG_VP)} ."
    elif kind == 6:
        s = f"{rng.choice(NAMES)} 's performance is {adj(pos)} ."
    elif kind == 7:
        s = f"i did n't think it was {adj(not pos)} ."
    elif kind == 8:
        s = f"{rng.choice(NAMES)} is {adj(pos)} as the {rng.choice(ROLES)} in this {adj(pos)} {noun} ."
    else:
        s = f"{subj} never feels {adj(not pos)} , and the {noun} {rng.choice(POS_VP if pos else NEG_VP)} ."
    return s, int(pos)


def sentences(n: int, rng: np.random.Generator) -> list[tuple[str, int]]:
    """``n`` distinct sentences."""
    out: list[tuple[str, int]] = []
    seen: set[str] = set()
    while len(out) < n:
        s, y = _sentence(rng)
        if s not in seen:
            seen.add(s)
            out.append((s, y))
    return out


def vectors(words: list[str], rng: np.random.Generator) -> np.ndarray:
    """Random 100-d vectors (GloVe-like scale) with a planted sentiment direction."""
    direction = rng.standard_normal(DIM)
    direction /= np.linalg.norm(direction)
    vec = 0.4 * rng.standard_normal((len(words), DIM))
    pol = np.array([1.0 if w in POSITIVE else -1.0 if w in NEGATIVE else 0.0 for w in words])
    vec += 2.0 * pol[:, None] * direction
    return vec


def write(folder: str | Path) -> dict:
    """Write the sample into ``folder``; returns counts."""
    folder = Path(folder)
    rng = np.random.default_rng(SEED)
    data = sentences(N_TRAIN + N_DEV, rng)
    train, dev = data[:N_TRAIN], data[N_TRAIN:]
    (folder / "SST-2").mkdir(parents=True, exist_ok=True)
    for name, rows in (("train", train), ("dev", dev)):
        with open(folder / "SST-2" / f"{name}.tsv", "w", encoding="utf-8", newline="\n") as fh:
            fh.write("sentence\tlabel\n")
            for s, y in rows:
                fh.write(f"{s} \t{y}\n")                # GLUE lines end with a blank before the tab
    counts: dict[str, int] = {}
    for s, _ in data:
        for w in s.split():
            counts[w] = counts.get(w, 0) + 1
    words = sorted(counts, key=lambda w: (-counts[w], w))
    words = [w for w in words if w not in NAMES] + [w for w in EXTRA_WORDS if w not in counts]
    vec = vectors(words, rng)
    with open(folder / f"glove.sample.{DIM}d.txt", "w", encoding="utf-8", newline="\n") as fh:
        for w, v in zip(words, vec):
            fh.write(w + " " + " ".join(f"{x:.5f}" for x in v) + "\n")
    return {"train": len(train), "dev": len(dev), "words": len(words), "tokens": len(counts)}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    here = Path(__file__).resolve().parents[1] / "data" / "sentiment_sample"
    folder = Path(argv[0]) if argv else here
    print(write(folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
