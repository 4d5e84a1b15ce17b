"""Handlers for small named-sound libraries: Scratch's sound library and qABCs' noises.

Both name each file after what sounds in it (``Animal/Dog1.wav``, ``noises/cow.ogg``), so
the caption is that name with a verb where one is needed ("a dog barking"), from
`SOUND_VERBS`, else from the path-word vocabulary. Both packages install a folder of their
source tree whole, so licences are looked up by source path (`Licenses.license_for_source`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from foleyldm.data.captions import phrase_words, split_words, strip_variants
from foleyldm.data.corpus_sources import Licenses, SourceItem, audio_files

#: what sounds (words of a file name, joined by spaces) -> (caption with a verb, label).
#: Labels follow the vocabulary's categories ("rooster" -> "chicken", "cow" -> "cattle").
SOUND_VERBS: dict[str, tuple[str, str]] = {
    "dog": ("a dog barking", "dog"),
    "cat": ("a cat meowing", "cat"),
    "meow": ("a cat meowing", "cat"),
    "kitten": ("a kitten meowing", "cat"),
    "cow": ("a cow mooing", "cattle"),
    "calf": ("a calf mooing", "cattle"),
    "horse": ("a horse neighing", "horse"),
    "foal": ("a foal neighing", "horse"),
    "horse gallop": ("a horse galloping", "horse"),
    "pig": ("a pig oinking", "pig"),
    "sheep": ("a sheep bleating", "sheep"),
    "rooster": ("a rooster crowing", "chicken"),
    "duck": ("a duck quacking", "duck"),
    "goose": ("a goose honking", "goose"),
    "owl": ("an owl hooting", "owl"),
    "eagle owl": ("an eagle owl hooting", "owl"),
    "wolf": ("a wolf howling", "wolf"),
    "wolf howl": ("a wolf howling", "wolf"),
    "lion": ("a lion roaring", "big cat"),
    "tiger": ("a tiger growling", "big cat"),
    "jaguar": ("a jaguar growling", "big cat"),
    "bear": ("a bear growling", "bear"),
    "elephant": ("an elephant trumpeting", "elephant"),
    "sea lion": ("a sea lion barking", "sea lion"),
    "hyena": ("a hyena laughing", "hyena"),
    "chimpanzee": ("a chimpanzee screeching", "monkey"),
    "mouse": ("a mouse squeaking", "rodent"),
    "hamster": ("a hamster squeaking", "rodent"),
    "frog": ("a frog croaking", "frog"),
    "aesculapian snake": ("a snake hissing", "snake"),
    "python": ("a python hissing", "snake"),
    "dolphin": ("a dolphin clicking and whistling", "dolphin"),
    "whale": ("a whale singing", "whale"),
    "bird": ("a bird chirping", "bird"),
    "sparrow": ("a sparrow chirping", "bird"),
    "crow": ("a crow cawing", "crow"),
    "cricket": ("a cricket chirping", "insect"),
    "crickets": ("crickets chirping", "insect"),
    "grasshopper": ("a grasshopper chirping", "insect"),
    **{
        bird: (f"{'an' if bird[0] in 'aeiou' else 'a'} {bird} calling", "bird")
        for bird in (
            "albatross",
            "booby",
            "emu",
            "flamingo",
            "guinea fowl",
            "heron",
            "iora",
            "pelican",
            "pheasant",
            "quail",
            "quetzal",
            "stork",
            "vulture",
            "wood grouse",
        )
    },
}


#: names that take no article ("the sound of maracas", "the sound of hockey")
NO_ARTICLE = frozenset(
    {"bagpipes", "balloons", "cymbals", "dice", "drums", "maracas", "spoons", "hockey", "paint"}
    | {"origami", "watercolor"}
)


def _article(name: str) -> str:
    """``"a cow"``, ``"an owl"``, ``"a ukulele"``, ``"an xbox"``, ``"maracas"``."""
    if name in NO_ARTICLE:
        return name
    vowel = name[0] in "aeiou" and not name.startswith(("uni", "uku", "eu"))
    an = vowel or (name[0] == "x" and name[1:2] not in "aeiou")
    return f"{'an' if an else 'a'} {name}"


def _category(words: list[str]) -> str | None:
    """The vocabulary's category of the head noun (the last word): "grand piano" -> piano."""
    return phrase_words(words[-1:])[1] if words else None


def _captions(*captions: str) -> list[str]:
    return list(dict.fromkeys(c for c in captions if c))


# ---- Scratch ------------------------------------------------------------------------------
#: Scratch sound names that need more than their words (folder Animal uses SOUND_VERBS).
SCRATCH_SOUNDS: dict[str, tuple[str, str]] = {
    "baby cry": ("a baby crying", "crying"),
    "finger snap": ("fingers snapping", "finger snap"),
    "footsteps": ("footsteps of a person walking", "footsteps"),
    "party noise": ("people chattering and laughing at a party", "crowd"),
    "slurp": ("someone slurping a drink", "slurp"),
    "balloon scratch": ("a balloon squeaking as it is rubbed", "squeak"),
    "bell toll": ("a bell tolling", "bell"),
    "bubbles": ("water bubbling", "water"),
    "car passing": ("a car passing by", "vehicle"),
    "door close": ("a door closing", "door"),
    "door creak": ("a door creaking", "door"),
    "motorcycle passing": ("a motorcycle passing by", "vehicle"),
    "plunge": ("something plunging into water", "water"),
    "pop": ("a short pop", "pop"),
    "rattle": ("a rattle shaking", "rattle"),
    "ripples": ("water rippling", "water"),
    "sewing machine": ("a sewing machine running", "machine"),
    "typing": ("typing on a keyboard", "typing"),
    "water drop": ("a drop of water dripping", "water"),
    "water running": ("water running from a tap", "water"),
    "afro string": ("an African string instrument being plucked", "strings"),
    "chord": ("a chord played on a synthesizer", "synthesizer"),
    "dijjeridoo": ("a didgeridoo droning", "didgeridoo"),
    "guitar strum": ("a guitar being strummed", "guitar"),
    "spooky string": ("spooky strings", "strings"),
    "string accent": ("a string section accent", "strings"),
    "string pluck": ("a string being plucked", "strings"),
    "suspense": ("a suspenseful orchestral sting", "strings"),
    "tambura": ("a tambura droning", "strings"),
    "trumpet": ("a trumpet playing", "horn"),
    "beat box": ("a person beatboxing", "beatbox"),
    "singer": ("a singer singing a short melody", "singing"),
    "ya": ('a voice shouting "ya"', "speech"),
}
#: Human/<Verb>-<female|male>.wav: verb -> (-ing form, label)
PEOPLE_VERBS: dict[str, tuple[str, str]] = {
    "cough": ("coughing", "cough"),
    "laugh": ("laughing", "laughter"),
    "scream": ("screaming", "scream"),
    "sneeze": ("sneezing", "sneeze"),
}
#: Music Loops/<name>: the few names that tell the style; the rest are "a music loop".
SCRATCH_LOOPS: dict[str, str] = {
    "drum": "a drum loop",
    "drum machine": "a drum machine loop",
    "drum set": "a drum kit loop",
    "guitar chords": "a loop of guitar chords",
    "hip hop": "a hip hop beat loop",
    "human beatbox": "a human beatbox loop",
    "medieval": "a medieval music loop",
    "techno": "a techno music loop",
    "xylo": "a xylophone music loop",
}
#: folder -> (caption template for names found nowhere above, default label)
SCRATCH_FOLDERS: dict[str, tuple[str, str]] = {
    "Animal": ("the sound of {}", "animal"),
    "Effects": ("{} sound effect", "everyday sound"),
    "Electronic": ("an electronic {} sound", "electronic sound"),
    "Human": ("{}", "human sound"),
    "Instruments": ("{} played on a musical instrument", "musical instrument"),
    "Percussion": ("{}", "percussion"),
}
SCRATCH_DIR = "scratch/Media/Sounds/"


def scratch(package: str, root: Path, lic: Licenses) -> Iterator[SourceItem]:
    """Scratch 1.4's sound library (``Media/Sounds/<Folder>/<Name>.wav``): the name says
    what sounds, the folder what kind of thing it is; the rest of the package is left out."""
    for item in audio_files(package, root, lic):
        if not item.name.startswith(SCRATCH_DIR) or item.member is not None:
            continue
        rel = item.name.removeprefix(SCRATCH_DIR)
        item.license = lic.license_for_source(f"Media/Sounds/{rel}")
        folder = PurePosixPath(rel).parts[0]
        words = strip_variants(split_words(PurePosixPath(rel).stem))
        key = " ".join(words)
        if folder == "Vocals" and key not in SCRATCH_SOUNDS:
            lyrics = re.sub(r"\d+$", "", PurePosixPath(rel).stem).replace("-", " ").lower()
            caption, label = f'a voice singing "{lyrics}"', "singing"
        elif folder == "Music Loops":
            caption = SCRATCH_LOOPS.get(key, "a music loop")
            label = "drum loop" if "drum" in caption or "beat" in caption else "music"
        elif len(words) == 2 and words[0] in PEOPLE_VERBS and words[1] in ("female", "male"):
            verb, label = PEOPLE_VERBS[words[0]]
            caption = f"a {'woman' if words[1] == 'female' else 'man'} {verb}"
        elif key in SOUND_VERBS or key in SCRATCH_SOUNDS:
            caption, label = SOUND_VERBS.get(key) or SCRATCH_SOUNDS[key]
        else:
            template, default = SCRATCH_FOLDERS.get(folder, ("{}", "everyday sound"))
            phrase, category = phrase_words(words)
            caption = template.format(" ".join(phrase or words)) if words else ""
            label = category or default
        item.captions = _captions(caption, label)
        item.labels = [label]
        yield item


# ---- qABCs --------------------------------------------------------------------------------
#: noises that are a character, a person or an idea rather than a thing that sounds
QABCS_SKIP = frozenset(
    {
        "adjutant",
        "austrian_flag",
        "cheburashka",
        "chef",
        "clown",
        "dogmatix",
        "dunno",
        "ear",
        "earth",
        "emelya",
        "estonian_flag",
        "firebird",
        "gamekeeper",
        "ivasyk",
        "jack",
        "joker",
        "ode",
        "ole_lukoje",
        "prince",
        "pupil",
        "quarter",
        "quarter_note",
        "sailorboy",
        "schooler",
        "sound",
        "star",
        "umka",
        "ursula",
        "x-men",
        "x-ray",
        "yaga",
        "yeti",
        "yinyang",
    }
)
#: names whose head noun would give a misleading vocabulary category ("hat" -> hi-hat)
QABCS_NO_CATEGORY = frozenset({"hat", "rocking_horse", "little_monkey", "magnifying_glass"})
#: picture folder of the name (abcs/all/pics/<group>/) -> default label
QABCS_GROUPS = {"animals": "animal", "instrument": "musical instrument"}
QABCS_DIR = "qabcs/abcs/all/noises/"


def qabcs(package: str, root: Path, lic: Licenses) -> Iterator[SourceItem]:
    """qABCs' noises (``abcs/all/noises/<name>.ogg``), one per thing of its alphabet game:
    animals, instruments, toys and things. Its picture folder tells which of them a name
    is; animals get a verb where `SOUND_VERBS` knows one."""
    pics = root / "usr" / "share" / "qabcs" / "abcs" / "all" / "pics"
    group = {p.stem: p.parent.name for p in pics.glob("*/*") if p.is_file()}
    for item in audio_files(package, root, lic):
        stem = PurePosixPath(item.name).stem
        if not item.name.startswith(QABCS_DIR) or stem in QABCS_SKIP:
            continue
        item.license = lic.license_for_source(item.name.removeprefix("qabcs/"))
        words = split_words(stem)
        name = " ".join(words)
        the_sound = f"the sound of {_article(name)}"
        kind = group.get(stem, "")
        if name in SOUND_VERBS:
            caption, label = SOUND_VERBS[name]
        elif kind == "instrument":
            caption = f"{_article(name)} being played"
            label = _category(words) or QABCS_GROUPS[kind]
        else:
            caption = the_sound
            known = None if stem in QABCS_NO_CATEGORY else _category(words)
            label = known or QABCS_GROUPS.get(kind, "everyday sound")
        item.captions = _captions(caption, the_sound)
        item.labels = [label]
        yield item
