"""Captions from file names: path words, a vocabulary map, and a category per clip.

Sound libraries name files like ``weapons/expl_big_02.wav`` or ``Kick_Lite_1.flac``. We
turn the parent folder and the file stem into words (camelCase split, digits and variant
suffixes such as ``_02``, ``_v2``, ``-alt``, a trailing ``_b`` dropped), map abbreviations and
bare names to phrases with `VOCABULARY` (``bd`` → "bass drum", ``dog`` → "dog barking"), and
pick a category (the first word of the stem, else of the folder, that the vocabulary knows).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

# word -> (phrase that replaces it in the caption, category or None). Keys are lower-case
# single words after singularisation ("dogs" -> "dog"); an empty phrase drops the word.
VOCABULARY: dict[str, tuple[str, str | None]] = {
    # filler words of sound libraries
    **{
        w: ("", None)
        for w in (
            "sfx",
            "fx",
            "snd",
            "sound",
            "sounds",
            "sample",
            "samples",
            "wav",
            "ogg",
            "flac",
            "mono",
            "stereo",
            "audio",
            "data",
            "misc",
            "generic",
            "effect",
            "effects",
            "default",
            "base",
            "core",
            "env",
            "the",
        )
    },
    # drums and percussion
    "bd": ("bass drum", "kick drum"),
    "kick": ("kick drum", "kick drum"),
    "bassdrum": ("bass drum", "kick drum"),
    "sn": ("snare drum", "snare drum"),
    "sd": ("snare drum", "snare drum"),
    "snare": ("snare drum", "snare drum"),
    "hh": ("hi-hat", "hi-hat"),
    "hihat": ("hi-hat", "hi-hat"),
    "hat": ("hi-hat", "hi-hat"),
    "tom": ("tom drum", "tom drum"),
    "tomtom": ("tom drum", "tom drum"),
    "crash": ("crash cymbal", "cymbal"),
    "ride": ("ride cymbal", "cymbal"),
    "splash": ("splash cymbal", "cymbal"),
    "china": ("china cymbal", "cymbal"),
    "cymbal": ("cymbal", "cymbal"),
    "cym": ("cymbal", "cymbal"),
    "clap": ("hand clap", "clapping"),
    "handclap": ("hand clap", "clapping"),
    "cowbell": ("cowbell", "cowbell"),
    "tambourine": ("tambourine", "tambourine"),
    "tamb": ("tambourine", "tambourine"),
    "shaker": ("shaker", "shaker"),
    "conga": ("conga drum", "hand drum"),
    "bongo": ("bongo drum", "hand drum"),
    "djembe": ("djembe", "hand drum"),
    "tabla": ("tabla", "hand drum"),
    "woodblock": ("wood block", "wood block"),
    "rim": ("rimshot", "snare drum"),
    "rimshot": ("rimshot", "snare drum"),
    "stick": ("drum stick click", "snare drum"),
    "perc": ("percussion", "percussion"),
    "drum": ("drum", "drum"),
    "drumkit": ("drum kit", "drum"),
    "timpani": ("timpani", "drum"),
    "glockenspiel": ("glockenspiel", "bell"),
    "loop": ("loop", None),
    # instruments
    "guit": ("guitar", "guitar"),
    "guitar": ("guitar", "guitar"),
    "bass": ("bass", "bass"),
    "piano": ("piano", "piano"),
    "violin": ("violin", "violin"),
    "cello": ("cello", "cello"),
    "bassoon": ("bassoon", "woodwind"),
    "flute": ("flute", "woodwind"),
    "choir": ("choir", "choir"),
    "synth": ("synthesizer", "synthesizer"),
    "elec": ("electronic", None),
    "vinyl": ("vinyl record", "vinyl"),
    "bell": ("bell", "bell"),
    "chime": ("chimes", "bell"),
    "gong": ("gong", "bell"),
    "horn": ("horn", "horn"),
    "trumpet": ("trumpet", "horn"),
    "whistle": ("whistle", "whistle"),
    # people
    "vox": ("voice", "speech"),
    "voice": ("voice", "speech"),
    "speech": ("speech", "speech"),
    "laugh": ("laughing", "laughter"),
    "scream": ("screaming", "scream"),
    "yell": ("yelling", "scream"),
    "cry": ("crying", "crying"),
    "cough": ("coughing", "cough"),
    "pain": ("groan of pain", "groan"),
    "hurt": ("groan of pain", "groan"),
    "die": ("dying groan", "groan"),
    "death": ("dying groan", "groan"),
    "breath": ("breathing", "breathing"),
    "footstep": ("footsteps", "footsteps"),
    "step": ("footsteps", "footsteps"),
    "walk": ("footsteps", "footsteps"),
    "jump": ("jump", None),
    "fall": ("falling thud", "thud"),
    # animals
    "dog": ("dog barking", "dog"),
    "bark": ("barking", "dog"),
    "puppy": ("puppy yapping", "dog"),
    "wolf": ("wolf howling", "wolf"),
    "cat": ("cat meowing", "cat"),
    "cow": ("cow mooing", "cattle"),
    "bull": ("bull bellowing", "cattle"),
    "rooster": ("rooster crowing", "chicken"),
    "chicken": ("chicken clucking", "chicken"),
    "hen": ("hen clucking", "chicken"),
    "duck": ("duck quacking", "duck"),
    "drake": ("duck quacking", "duck"),
    "goose": ("goose honking", "goose"),
    "gander": ("goose honking", "goose"),
    "sheep": ("sheep bleating", "sheep"),
    "lamb": ("lamb bleating", "sheep"),
    "goat": ("goat bleating", "goat"),
    "pig": ("pig oinking", "pig"),
    "horse": ("horse neighing", "horse"),
    "donkey": ("donkey braying", "donkey"),
    "lion": ("lion roaring", "big cat"),
    "tiger": ("tiger growling", "big cat"),
    "bear": ("bear growling", "bear"),
    "owl": ("owl hooting", "owl"),
    "crow": ("crow cawing", "crow"),
    "seagull": ("seagulls crying", "seagull"),
    "bird": ("birds singing", "bird"),
    "cuckoo": ("cuckoo calling", "bird"),
    "frog": ("frog croaking", "frog"),
    "bee": ("bee buzzing", "insect"),
    "hornet": ("hornet buzzing", "insect"),
    "cricket": ("crickets chirping", "insect"),
    "grasshopper": ("grasshopper chirping", "insect"),
    "elephant": ("elephant trumpeting", "elephant"),
    "monkey": ("monkey chattering", "monkey"),
    "whale": ("whale song", "whale"),
    "dolphin": ("dolphin clicking", "dolphin"),
    # weapons, impacts, machines
    "expl": ("explosion", "explosion"),
    "explosion": ("explosion", "explosion"),
    "explode": ("explosion", "explosion"),
    "blast": ("blast", "explosion"),
    "bomb": ("bomb", "explosion"),
    "gun": ("gunshot", "gunshot"),
    "gunshot": ("gunshot", "gunshot"),
    "shot": ("gunshot", "gunshot"),
    "rifle": ("rifle shot", "gunshot"),
    "pistol": ("pistol shot", "gunshot"),
    "shotgun": ("shotgun blast", "gunshot"),
    "uzi": ("machine gun", "gunshot"),
    "laser": ("laser zap", "laser"),
    "plasma": ("plasma zap", "laser"),
    "rocket": ("rocket", "rocket"),
    "missile": ("missile", "rocket"),
    "reload": ("weapon reloading", "weapon handling"),
    "sword": ("sword", "sword"),
    "blade": ("blade", "sword"),
    "arrow": ("arrow", "arrow"),
    "hit": ("hit", "impact"),
    "impact": ("impact", "impact"),
    "punch": ("punch", "impact"),
    "thud": ("thud", "thud"),
    "crack": ("crack", "impact"),
    "break": ("breaking", "breaking"),
    "shatter": ("shattering", "breaking"),
    "glass": ("glass", "glass"),
    "door": ("door", "door"),
    "knock": ("knocking", "knock"),
    "engine": ("engine", "engine"),
    "motor": ("motor", "engine"),
    "car": ("car", "vehicle"),
    "truck": ("truck", "vehicle"),
    "firetruck": ("fire truck siren", "siren"),
    "siren": ("siren", "siren"),
    "helicopter": ("helicopter", "aircraft"),
    "plane": ("airplane", "aircraft"),
    "train": ("train", "train"),
    "machine": ("machine", "machine"),
    "fan": ("fan", "machine"),
    "vacuum": ("vacuum cleaner", "vacuum cleaner"),
    "hammer": ("hammering", "tools"),
    "saw": ("sawing", "tools"),
    "drill": ("drill", "tools"),
    "scissors": ("scissors cutting", "tools"),
    "clock": ("clock ticking", "clock"),
    "tick": ("ticking", "clock"),
    "beep": ("beep", "beep"),
    "click": ("click", "click"),
    "button": ("button click", "click"),
    "switch": ("switch click", "click"),
    "alarm": ("alarm", "alarm"),
    "buzzer": ("buzzer", "alarm"),
    "camera": ("camera shutter", "camera"),
    "toilet": ("toilet flushing", "toilet"),
    "kettle": ("kettle boiling", "kettle"),
    "coin": ("coins", "coins"),
    "money": ("coins", "coins"),
    "paper": ("paper rustling", "paper"),
    "zipper": ("zipper", "zipper"),
    # nature and ambience
    "amb": ("ambience", "ambience"),
    "ambi": ("ambient", "ambience"),
    "ambient": ("ambience", "ambience"),
    "ambience": ("ambience", "ambience"),
    "rain": ("rain", "rain"),
    "thunder": ("thunder", "thunder"),
    "lightning": ("thunder", "thunder"),
    "wind": ("wind", "wind"),
    "water": ("water", "water"),
    "stream": ("stream", "water"),
    "river": ("river", "water"),
    "wave": ("waves", "water"),
    "ocean": ("ocean waves", "water"),
    "bubble": ("bubbling", "water"),
    "drip": ("dripping", "water"),
    "fire": ("fire", "fire"),
    "flame": ("flames", "fire"),
    "lava": ("bubbling lava", "fire"),
    "fireworks": ("fireworks", "fireworks"),
    "firework": ("fireworks", "fireworks"),
    "leaf": ("leaves rustling", "leaves"),
    "grass": ("grass", "leaves"),
    "gravel": ("gravel", "gravel"),
    "snow": ("snow", "snow"),
    "dirt": ("dirt", "dirt"),
    "wood": ("wood", "wood"),
    "metal": ("metal", "metal"),
    "stone": ("stone", "stone"),
    # interface and game
    "ui": ("interface", "interface"),
    "menu": ("menu", "interface"),
    "pickup": ("pick-up chime", "interface"),
    "powerup": ("power-up chime", "interface"),
    "announcer": ("announcer voice", "speech"),
    "woosh": ("whoosh", "whoosh"),
    "whoosh": ("whoosh", "whoosh"),
    "swoosh": ("whoosh", "whoosh"),
    "swish": ("swish", "whoosh"),
    "magic": ("magic spell", "magic"),
    "spell": ("magic spell", "magic"),
    # game and sample-library words
    "attack": ("attack", "combat"),
    "miss": ("missing swing", "combat"),
    "throw": ("throw", "combat"),
    "axe": ("axe", "combat"),
    "mace": ("mace", "combat"),
    "spear": ("spear", "combat"),
    "knife": ("knife", "combat"),
    "fist": ("fist", "combat"),
    "sling": ("sling", "combat"),
    "bow": ("bow twang", "arrow"),
    "crossbow": ("crossbow", "arrow"),
    "dart": ("dart", "arrow"),
    "claw": ("claw swipe", "combat"),
    "club": ("club", "combat"),
    "bite": ("bite", "combat"),
    "taunt": ("taunt", "speech"),
    "coms": ("voice callout", "speech"),
    "tutorial": ("spoken tutorial", "speech"),
    "talk": ("talking", "speech"),
    "gasp": ("gasping", "breathing"),
    "drown": ("drowning gurgle", "breathing"),
    "bullet": ("bullet", "gunshot"),
    "grenade": ("grenade", "explosion"),
    "chaingun": ("machine gun", "gunshot"),
    "smg": ("submachine gun", "gunshot"),
    "needler": ("needle gun", "gunshot"),
    "dig": ("digging", "digging"),
    "dug": ("digging", "digging"),
    "mud": ("mud", "dirt"),
    "anvil": ("anvil strike", "metal"),
    "armor": ("armor clanking", "metal"),
    "splat": ("wet splat", "splat"),
    "gib": ("gore splat", "splat"),
    "bounce": ("bounce", "impact"),
    "dragon": ("dragon roaring", "monster"),
    "ghost": ("ghostly moan", "monster"),
    "daemon": ("demon growling", "monster"),
    "demon": ("demon growling", "monster"),
    "snake": ("snake hissing", "snake"),
    "eagle": ("eagle screeching", "bird"),
    "robot": ("robot", "robot"),
    "robotic": ("robotic voice", "robot"),
    "phone": ("telephone", "telephone"),
    "telephone": ("telephone", "telephone"),
    "church": ("church bell", "bell"),
    "dong": ("bell dong", "bell"),
    "music": ("music", "music"),
    "day": ("daytime ambience", "ambience"),
    "night": ("night ambience", "ambience"),
    "cart": ("cart rolling", "vehicle"),
    "diesel": ("diesel engine", "engine"),
    "beat": ("drum beat", "drum loop"),
    "tuba": ("tuba", "brass"),
    "brass": ("brass", "brass"),
    "trombone": ("trombone", "brass"),
    "organ": ("organ", "organ"),
    "string": ("strings", "strings"),
    "stringsnpad": ("strings and pads", "synthesizer"),
    "pad": ("synthesizer pad", "synthesizer"),
    "waveform": ("synthesizer waveform", "synthesizer"),
    "shape": ("synthesizer waveform", "synthesizer"),
    "sine": ("sine tone", "synthesizer"),
    "square": ("square wave tone", "synthesizer"),
    "lfo": ("wobbling", "synthesizer"),
    "blip": ("blip", "beep"),
    "scratch": ("scratching", "vinyl"),
    "chat": ("chat notification", "interface"),
    "select": ("selection click", "click"),
    "slider": ("slider click", "click"),
    "checkbox": ("checkbox click", "click"),
    "notification": ("notification chime", "interface"),
    "lo": ("low", None),
    "hi": ("high", None),
    "med": ("medium", None),
    "bg": ("background", None),
}

#: Words of variant suffixes: dropped at the end of a name ("door_open_alt" -> "door open").
VARIANT_WORDS = frozenset(
    {
        "v",
        "var",
        "variant",
        "alt",
        "take",
        "version",
        "ver",
        "copy",
        "new",
        "old",
        "final",
        "edit",
        "mix",
        "orig",
        "l",
        "r",
        "left",
        "right",
        "short",
        "long",
    }
)

_IRREGULAR = {
    "mice": "mouse",
    "geese": "goose",
    "teeth": "tooth",
    "feet": "foot",
    "people": "person",
    "leaves": "leaf",
    "knives": "knife",
    "wolves": "wolf",
}
_KEEP_S = (
    "christmas",
    "ss",
    "us",
    "is",
    "ics",
    "news",
    "series",
    "scissors",
    "bass",
    "glass",
    "gas",
    "fireworks",
    "chess",
    "canvas",
    "ambience",
    "stairs",
    "lens",
)


@dataclass(frozen=True)
class PathCaption:
    """A caption made from a file path, with the words it came from and its category."""

    caption: str
    category: str | None  # from the vocabulary, or None
    fallback: str | None  # the folder's (else the stem's) words, for when category is None
    words: tuple[str, ...]


def split_words(name: str) -> list[str]:
    """Lower-case words of a file or folder name: camelCase split, digits and lone letters
    (variant marks such as ``_b``) dropped.

    ``"EE_Kick_Lite_1"`` → ``["ee", "kick", "lite"]``; ``"WaterglassLo"`` →
    ``["waterglass", "lo"]``; ``"env_sounds_water.3"`` → ``["env", "sounds", "water"]``.
    """
    name = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", name)
    return [w for w in re.split(r"[^a-z]+", name.lower()) if len(w) > 1]


def strip_variants(words: list[str]) -> list[str]:
    """Drop variant markers at the end: ``alt``, ``var``, ``take``, ``left`` ..."""
    out = list(words)
    while len(out) > 1 and out[-1] in VARIANT_WORDS:
        out.pop()
    return out


def singular(word: str) -> str:
    """A crude singular for matching the vocabulary ("dogs" -> "dog", "mice" -> "mouse")."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word in VOCABULARY or len(word) <= 3 or word.endswith(_KEEP_S):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


Vocabulary = dict[str, tuple[str, str | None]]


#: Plain words that may form compounds with vocabulary words ("malehurt", "breakglass").
COMPOUND_PARTS = frozenset(
    {
        "male",
        "female",
        "man",
        "woman",
        "team",
        "need",
        "help",
        "cover",
        "me",
        "ground",
        "hit",
        "death",
        "hurt",
        "break",
        "glass",
        "wood",
        "metal",
        "electric",
        "big",
        "small",
        "hard",
        "bolt",
        "soft",
        "low",
        "high",
        "fast",
        "slow",
        "short",
        "long",
        "water",
        "fire",
        "door",
        "foot",
        "step",
        "tool",
        "stone",
        "rock",
        "sand",
        "ice",
        "wind",
        "rain",
    }
)


def split_compound(word: str, vocabulary: Vocabulary | None = None) -> list[str]:
    """``"malehurt"`` → ``["male", "hurt"]`` when both halves are known words; else
    ``[word]``. Only for words the vocabulary does not know."""
    known = COMPOUND_PARTS | VOCABULARY.keys() | (vocabulary or {}).keys()
    if word in known or len(word) < 6:
        return [word]
    for i in range(3, len(word) - 2):
        a, b = word[:i], word[i:]
        if a in known and singular(b) in known:
            return [a, b]
    return [word]


def phrase_words(
    words: list[str], vocabulary: Vocabulary | None = None
) -> tuple[list[str], str | None]:
    """Map words through `VOCABULARY` (``vocabulary`` entries take precedence), splitting
    unknown compounds; returns (caption words, first category found)."""
    out: list[str] = []
    category: str | None = None
    for word in words:
        key = singular(word)
        parts = [key] if _lookup(key, vocabulary) else split_compound(key, vocabulary)
        for part in parts:
            phrase, cat = _lookup(part, vocabulary) or (word if len(parts) == 1 else part, None)
            if category is None and cat is not None:
                category = cat
            for w in phrase.split():
                if w not in out:
                    out.append(w)
    return out, category


def _lookup(key: str, vocabulary: Vocabulary | None) -> tuple[str, str | None] | None:
    return (vocabulary or {}).get(key) or VOCABULARY.get(key)


def path_caption(
    path: str | PurePath,
    generic_folders: frozenset[str] = frozenset(),
    vocabulary: Vocabulary | None = None,
) -> PathCaption:
    """Caption from a folder and the file stem.

    The folder is the nearest of the last three whose words are not all filler ("sounds",
    "samples", numbers) nor listed in ``generic_folders``. Folder words come first
    ("weapons/expl_big.wav" → "weapons explosion big"), except that a folder naming a
    category of its own is dropped when the stem names one ("birds/crow.wav" → "crow
    cawing", not "birds singing crow cawing"). ``category`` comes from the vocabulary (the
    stem's first, then the folder's); ``fallback`` is the folder's words, else the stem's.

    Args:
        path: the audio file's path.
        generic_folders: further folder names (lower case) that carry no meaning.
        vocabulary: extra word → (phrase, category) entries, e.g. for one game's names.
    """
    p = PurePath(path)
    stem_words, stem_cat = phrase_words(strip_variants(split_words(p.stem)), vocabulary)
    folder_words: list[str] = []
    folder_cat: str | None = None
    for parent in list(p.parents)[:3]:
        if parent.name.lower() in generic_folders:
            continue
        folder_words, folder_cat = phrase_words(
            strip_variants(split_words(parent.name)), vocabulary
        )
        if folder_words:
            break
    if stem_cat is not None and folder_cat is not None:
        folder_words = []
    words = folder_words + [w for w in stem_words if w not in folder_words]
    fallback = " ".join(folder_words or stem_words) or None
    return PathCaption(" ".join(words), stem_cat or folder_cat, fallback, tuple(words))
