"""Handlers for game and desktop packages with a few named animal sounds (dog barks above all).

These packages name each sound file after what sounds in it (``Sounds/Bark2.ogg``,
``misc/rooster.wav``) but mix in music, interface beeps and words in other languages, so
each handler takes named folders only, and captions a file from a table keyed by its
lower-cased file name without trailing digits (``bark2`` -> ``bark``), then `SOUND_VERBS`;
a `Pick` with ``only_named`` leaves out the files neither knows, others give them to the
path captioner. Licences are looked up by source path (`Licenses.license_for_source`)
where the package installs a source folder under another name (Lugaru's ``Data/``,
Scorched3D's ``apoc`` mod, MATE's ``data/sounds``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from foleyldm.data.corpus_sources import Handler, Licenses, SourceItem, _from_path, _short
from foleyldm.data.corpus_sources_extra import SOUND_VERBS, _captions
from foleyldm.data.manifest import AUDIO_SUFFIXES

BARK = ("a dog barking", "dog")
GROWL = ("a dog growling", "dog")
WHOOSH = ("a whoosh", "whoosh")


@dataclass(frozen=True)
class Pick:
    """The audio files directly in ``folder`` (an installed path) that a handler takes."""

    folder: str
    #: the folder's path in the source tree for DEP-5 lookups ("" -> the installed path)
    source: str = ""
    #: key (lower-cased stem without trailing digits) -> (caption, label)
    names: dict[str, tuple[str, str]] = field(default_factory=dict)
    only_named: bool = True
    #: the category of files left to the path captioner (``only_named=False``)
    default: str = "game sound effect"
    suffixes: tuple[str, ...] = tuple(AUDIO_SUFFIXES)


def sound_key(stem: str) -> str:
    """``"Bark2"`` -> ``"bark"``, ``"seen-frog3"`` -> ``"seen-frog"``, ``"f16_1"`` unchanged."""
    return re.sub(r"(?<=[a-z])\d+$", "", stem.lower())


def picked(*picks: Pick) -> Handler:
    """A handler taking the files of ``picks``; see the module docstring."""

    def handler(package: str, root: Path, lic: Licenses) -> Iterator[SourceItem]:
        for pick in picks:
            folder = root / pick.folder
            files = sorted(folder.iterdir()) if folder.is_dir() else []
            for path in files:
                if not path.is_file() or path.suffix.lower() not in pick.suffixes:
                    continue
                rel = f"{pick.folder.rstrip('/')}/{path.name}"
                key = sound_key(path.stem)
                found = pick.names.get(key) or SOUND_VERBS.get(key.replace("-", " "))
                if found is None and pick.only_named:
                    continue
                if pick.source:
                    licence = lic.license_for_source(f"{pick.source.rstrip('/')}/{path.name}")
                else:
                    licence = lic.license_for(rel)
                item = SourceItem(package, _short(rel), path, license=licence)
                if found is None:
                    yield _from_path(item, pick.default)
                    continue
                item.captions = _captions(*found)
                item.labels = [found[1]]
                yield item

    return handler


# ---- Lugaru: the whole Sounds folder (the game of a rabbit warrior among wolves) ----------
LUGARU: dict[str, tuple[str, str]] = {
    "bark": BARK,
    "barkgrowl": BARK,
    "growl": GROWL,
    "snarl": ("a dog snarling", "dog"),
    "hawk": ("a hawk screeching", "bird"),
    "rabbitchitter": ("a rabbit chittering", "animal"),
    "rabbitpain": ("a rabbit squealing in pain", "animal"),
    "rabbitattack": ("a rabbit attacking", "combat"),
    **{m: ("background music from a game", "music") for m in ("music", "music1desert")},
    **{m: ("background music from a game", "music") for m in ("music1grass", "music1snow")},
    "desertambient": ("desert wind ambience", "ambience"),
    "wind": ("wind blowing", "wind"),
    "footstepgrass": ("footsteps on grass", "footsteps"),
    "footstepsnow": ("footsteps on snow", "footsteps"),
    "footstepstone": ("footsteps on stone", "footsteps"),
    "skid": ("feet skidding on the ground", "footsteps"),
    "snowskid": ("feet skidding on snow", "footsteps"),
    "jump": ("someone jumping", "footsteps"),
    "land": ("someone landing on the ground", "thud"),
    "whoosh": WHOOSH,
    "midwhoosh": WHOOSH,
    "movewhoosh": WHOOSH,
    "highwhoosh": ("a high whoosh", "whoosh"),
    "lowwhoosh": ("a low whoosh", "whoosh"),
    "whooshhit": ("a whoosh and a hit", "whoosh"),
    "knifedraw": ("a knife being drawn", "combat"),
    "knifesheathe": ("a knife being sheathed", "combat"),
    "knifeslice": ("a knife slicing", "combat"),
    "knifeswish": ("a knife swishing through the air", "whoosh"),
    "swordslice": ("a sword slicing", "sword"),
    "swordstaff": ("a sword hitting a wooden staff", "sword"),
    "staffbody": ("a wooden staff hitting a body", "impact"),
    "staffhead": ("a wooden staff hitting a head", "impact"),
    "staffbreak": ("a wooden staff breaking", "breaking"),
    "clawslice": ("claws slashing", "combat"),
    "fleshstab": ("a blade stabbing flesh", "combat"),
    "fleshstabremove": ("a blade pulled out of flesh", "combat"),
    "clank": ("a metal clank", "metal"),
    "metalhit": ("metal hitting metal", "metal"),
    "heavyimpact": ("a heavy impact", "impact"),
    "thud": ("a thud", "thud"),
    "splatter": ("a wet splatter", "impact"),
    "break": ("something breaking", "breaking"),
    "broken": ("something breaking", "breaking"),
    "bushrustle": ("a bush rustling", "foliage"),
    "fire": ("a fire burning", "fire"),
    "firestart": ("a fire flaring up", "fire"),
    "fireend": ("a fire going out", "fire"),
    "alarm": ("an alarm", "alarm"),
    "consolefail": ("an error sound", "interface"),
    "consolesuccess": ("a success chime", "interface"),
}
lugaru = picked(Pick("usr/share/games/lugaru/Sounds", "Data/Sounds", LUGARU, only_named=False))

# ---- Scorched 3D: the misc/ folders (animals, weather, vehicles) -------------------------
SCORCHED3D: dict[str, tuple[str, str]] = {
    "cows": ("cows mooing", "cattle"),
    "moo": ("a cow mooing", "cattle"),
    "bats": ("bats squeaking", "bat"),
    "birdchirp": ("a bird chirping", "bird"),
    "birds": ("birds singing", "bird"),
    "gull": ("a seagull calling", "bird"),
    "frogs": ("frogs croaking", "frog"),
    "thunder": ("thunder rumbling", "thunder"),
    "rain": ("rain falling", "rain"),
    "oceanwaves": ("ocean waves breaking on the shore", "water"),
    "splash": ("a splash in water", "water"),
    "lava": ("lava bubbling", "lava"),
    "carhorn": ("a car horn honking", "vehicle"),
    "policecar": ("a police car siren", "siren"),
    "firetruck": ("a fire truck siren", "siren"),
    "helicopter": ("a helicopter flying", "aircraft"),
    "apache_": ("a helicopter flying", "aircraft"),
    "cessna": ("a propeller plane flying", "aircraft"),
    "jet": ("a jet flying over", "aircraft"),
    **{f"{jet}_{k}": ("a jet flying over", "aircraft") for jet in ("f16", "f18") for k in "12"},
    "scream": ("a person screaming", "scream"),
    "screaming": ("people screaming", "scream"),
    "cheeringloop": ("a crowd cheering", "crowd"),
    "citysounds": ("city street ambience", "ambience"),
}
_S3D = "usr/share/games/scorched3d/data"
scorched3d = picked(
    *(
        Pick(
            f"{_S3D}/globalmods/{mod}/data/wav/misc",
            f"data/globalmods/{mod}/data/wav/misc",
            SCORCHED3D,
        )
        for mod in ("none", "apoc")
    ),
)

# ---- the rest: a few named files each ------------------------------------------------------
trophy = picked(
    Pick(
        "usr/share/games/trophy/sounds",
        names={
            "carhorn": ("a car horn honking", "vehicle"),
            "crash": ("a car crashing", "crash"),
            "engine": ("a car engine running", "engine"),
            "shot": ("a gunshot", "gunshot"),
        },
    )
)
#: Eat the Whistle (football); Italian names: fischio = whistle, palo = goalpost
etw = picked(
    Pick(
        "usr/share/games/etw/snd",
        names={
            "crowd": ("a stadium crowd cheering", "crowd"),
            "boou": ("a stadium crowd booing", "crowd"),
            "fischiocorto": ("a referee blowing a short whistle", "whistle"),
            "fischiolungo": ("a referee blowing a long whistle", "whistle"),
            "palo": ("a ball hitting the goalpost", "impact"),
        },
    ),
    Pick("usr/share/games/etw/crowd", names={"crowd": ("a football stadium crowd", "crowd")}),
)
mate_media = picked(
    Pick(
        "usr/share/sounds/mate/default/alerts",
        "data/sounds",
        {
            "bark": BARK,
            "drip": ("a drop of water dripping", "water"),
            "glass": ("a glass clinking", "glass"),
            "sonar": ("a sonar ping", "beep"),
        },
    )
)
#: the examples sit under usr/share/doc, which `audio_files` leaves out
wx_examples = picked(
    Pick(
        "usr/share/doc/wx3.2-examples/examples/samples/sound",
        "samples/sound",
        {"doggrowl": GROWL, "cuckoo": ("a cuckoo clock calling", "bird")},
    )
)
hyperrogue = picked(
    Pick(
        "usr/share/hyperrogue/sounds",
        "sounds",
        {
            "seen-woof": BARK,
            "bull": ("a bull bellowing", "cattle"),
            "mousesqueak": ("a mouse squeaking", "rodent"),
            "seen-frog": ("a frog croaking", "frog"),
            "seen-eagle": ("an eagle screeching", "bird"),
            "seen-snake": ("a snake hissing", "snake"),
            "steamhiss": ("steam hissing", "steam"),
            "explosion": ("an explosion", "explosion"),
            "splash": ("a splash in water", "water"),
        },
    )
)
#: each sound is there as .au and .wav: the .wav only
xemacs_sounds = picked(
    Pick(
        "usr/share/xemacs21/xemacs-packages/etc/sounds",
        names={
            "bark": BARK,
            "catmeow": ("a cat meowing", "cat"),
            "monkey": ("a monkey chattering", "monkey"),
            "cuckoo": ("a cuckoo clock calling", "bird"),
            "snore": ("a person snoring", "snoring"),
            "whip": ("a whip cracking", "whip"),
            "shotgun": ("a shotgun blast", "gunshot"),
            "drip": ("a drop of water dripping", "water"),
            "hammer": ("a hammer hitting", "tools"),
            "clink": ("glasses clinking", "glass"),
        },
        suffixes=(".wav",),
    )
)
