"""Handler for ``gcompris-qt-data``: GCompris' named sounds, read out of its Qt bundles.

GCompris (KDE's educational suite) installs each activity's files inside a compiled Qt
resource bundle (``usr/share/gcompris-qt/rcc/<activity>.rcc``, read by
`foleyldm.data.qt_resources`). Among them are recordings this corpus is short of: the farm
animals (a dog, a cow, a horse, ...), 25 solo instruments, and La Sonothèque's effects of
the sound-memory game (two more dog barks, a train, rain, applause). A file is taken only
when `GCOMPRIS` names it (interface clicks and music pieces are left out), and its licence
comes from the package's DEP-5 file by its source path, which is the path inside the bundle
(``src/activities/...``). Files under CC Sampling Plus (retired by Creative Commons) are
left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from foleyldm.data.corpus_sources import Licenses, SourceItem, _short
from foleyldm.data.corpus_sources_extra import _captions
from foleyldm.data.corpus_sources_extra2 import BARK
from foleyldm.data.manifest import AUDIO_SUFFIXES
from foleyldm.data.qt_resources import rcc_names

RCC_DIR = "usr/share/gcompris-qt/rcc"
EXCLUDED_LICENCES = ("CC-sampling-plus-1.0",)


def _instrument(name: str, label: str | None = None) -> tuple[str, str]:
    return (f"a {name} playing", label or name)


#: bundle name -> file stem lower-cased -> (caption, label)
GCOMPRIS: dict[str, dict[str, tuple[str, str]]] = {
    "explore_farm_animals": {
        "dog": BARK,
        "cat": ("a cat meowing", "cat"),
        "cow": ("a cow mooing", "cattle"),
        "horse": ("a horse neighing", "horse"),
        "pig": ("a pig grunting", "pig"),
        "sheep": ("a sheep bleating", "sheep"),
        "duck": ("a duck quacking", "duck"),
        "owl": ("an owl hooting", "owl"),
        "chickens": ("chickens clucking", "chicken"),
    },
    "instruments": {
        "accordion": _instrument("accordion"),
        "banjo": _instrument("banjo"),
        "bongo": ("bongo drums playing", "hand drum"),
        "castanets": ("castanets clicking", "percussion"),
        "cello": _instrument("cello"),
        "clarinet": _instrument("clarinet"),
        "cymbal": ("a cymbal crash", "cymbal"),
        "electric_guitar": _instrument("electric guitar"),
        "flute_traversiere": _instrument("flute"),
        "guitar": _instrument("guitar", "acoustic guitar"),
        "harmonica": _instrument("harmonica", "woodwind"),
        "harp": _instrument("harp"),
        "horn": _instrument("French horn", "french horn"),
        "maracas": ("maracas shaking", "shaker"),
        "organ": _instrument("organ"),
        "piano": _instrument("piano"),
        "saxophone": _instrument("saxophone", "alto saxophone"),
        "snare_drum": ("a snare drum roll", "snare drum"),
        "tambourine": ("a tambourine shaking", "tambourine"),
        "timpani": ("timpani drums playing", "drum"),
        "triangle": ("a triangle ringing", "percussion"),
        "trombone": _instrument("trombone"),
        "trumpet": _instrument("trumpet"),
        "tuba": _instrument("tuba"),
        "violin": _instrument("violin"),
    },
    "memory-sound": {
        "lrbark_1_la_cut": BARK,
        "lrbark_3_la_cut": BARK,
        "lrstartandstopcarengine1lacut": ("a car engine starting and stopping", "engine"),
        "lrtrain_slowing_down_01_la_cut": ("a train slowing down", "train"),
        "lrbuddhist_gong_05_la": ("a gong ringing", "bell"),
        "lrdoor_open_2_la": ("a door opening", "door"),
        "lrobject_falling_01_la": ("an object falling", "impact"),
        "lrobject_falling_02_la": ("an object falling", "impact"),
        "lrapplauses_1_la_cut": ("people applauding", "clapping"),
        "lrheart_beat_01_la": ("a heart beating", "thud"),
        "lrrain_in_garden_01_la_cut": ("rain falling in a garden", "rain"),
        "lrfrogsinpondduringstormlacut": ("frogs croaking in a pond during a storm", "frog"),
        **{f"lrfactory_noise_0{i}_la": ("machines in a factory", "machine") for i in range(1, 7)},
    },
    "canal_lock": {
        "door_open": ("a heavy lock gate opening", "door"),
        "door_close": ("a heavy lock gate closing", "door"),
        "water_fill": ("water rushing in", "water"),
    },
    "railroad": {"train": ("a train passing", "train")},
    "traffic": {"car": ("a car driving by", "vehicle")},
    "guessnumber": {"helicopter": ("a helicopter flying", "aircraft")},
    "target": {"arrow": ("an arrow hitting a target", "arrow")},
    "mining": {"pickaxe": ("a pickaxe striking rock", "tools")},
    "clickgame": {"drip": ("a water drip", "water")},
}


def gcompris(package: str, root: Path, lic: Licenses) -> Iterator[SourceItem]:
    """The named sounds of every bundle in ``usr/share/gcompris-qt/rcc`` (see the module)."""
    folder = root / RCC_DIR
    for bundle in sorted(folder.glob("*.rcc")) if folder.is_dir() else []:
        named = GCOMPRIS.get(bundle.stem, {})
        for member in rcc_names(bundle) if named else []:
            path = PurePosixPath(member)
            if path.suffix.lower() not in AUDIO_SUFFIXES:  # the pictures share the names
                continue
            found = named.get(path.stem.lower())
            if found is None:
                continue
            source = member.removeprefix("/gcompris/")
            licence = lic.license_for_source(source)
            if licence in EXCLUDED_LICENCES:
                continue
            name = _short(f"{RCC_DIR}/{bundle.name}/{path.name}")
            item = SourceItem(package, name, bundle, member=member, license=licence)
            item.captions = _captions(*found)
            item.labels = [found[1]]
            yield item
