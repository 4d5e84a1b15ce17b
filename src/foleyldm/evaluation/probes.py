"""Controllability probes that need no human: does the audio do what the prompt says?

- **pitch**: a note named in the prompt ("a cello playing C3", "A#4", "middle C") against
  the clip's median f0 (librosa's pYIN by default; YIN as a fast option), in cents;
- **onsets**: "N knocks" / "three claps" against the number of detected onsets;
- **loudness trend**: "getting louder" / "fading out" against the slope (dB/s) of a line
  fitted to the clip's RMS level (frames within 60 dB of the loudest);
- **speech presence**: prompts about talking/speech against YAMNet's speech probability
  (silero-vad would also do; YAMNet is already here and offline);
- **animal presence**: prompts naming an animal ("a dog barking", "a cow mooing") against
  YAMNet's classes of that animal's sounds, at the clip's best patch: a bark lasts a few
  tenths of a second, so a clip mean would measure the silence around it.

`probe` runs whichever probes the prompt calls for and says whether each passed;
`probe_clips` runs them over a set of files and summarises each probe (pass rates).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from foleyldm.evaluation.backbones.yamnet import YAMNet

_NOTE_RE = re.compile(r"\b([A-Ga-g])([#♯b♭]?)(-?\d)\b")
_SEMITONE = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
)
_NUMBERS = {w: i for i, w in enumerate(_WORDS.split())}
_COUNTABLE = (
    r"knocks?|claps?|beeps?|hits?|strikes?|bangs?|taps?|footsteps?|steps?|barks?|"
    r"chimes?|rings?|dings?|gunshots?|shots?|clicks?|blows?|thuds?|pops?|notes?"
)
_COUNT_RE = re.compile(rf"\b(\d+|{'|'.join(_NUMBERS)})\s+(?:\w+\s+)?(?:{_COUNTABLE})\b", re.I)
_LOUDER = re.compile(
    r"getting louder|grows? louder|increasing(?: in)? volume|crescendo|fades? in|"
    r"fading in|approaching|builds? up|swells?",
    re.I,
)
_QUIETER = re.compile(
    r"getting (?:quieter|softer)|fades? (?:out|away)|fading (?:out|away)|"
    r"decrescendo|diminuendo|dies? (?:away|down)|receding|moving away",
    re.I,
)
_SPEECH = re.compile(
    r"\b(?:speech|speak\w*|talk\w*|says?|saying|voice|narrat\w*|"
    r"conversation|announc\w*|whisper\w*)\b",
    re.I,
)
#: YAMNet classes 0–5: Speech, Child speech, Conversation, Narration, Babbling, Speech synth.
SPEECH_CLASSES = range(6)
#: Animals a prompt can name (first match wins) -> YAMNet (AudioSet) class names of their sounds.
ANIMALS: dict[str, tuple[re.Pattern[str], tuple[str, ...]]] = {
    name: (re.compile(rx, re.I), classes)
    for name, rx, classes in [
        ("dog", r"\b(?:dogs?|pupp(?:y|ies)|bark\w*|yap\w*|woof\w*)\b",
         ("Dog", "Bark", "Yip", "Howl", "Bow-wow", "Growling", "Whimper (dog)",
          "Canidae, dogs, wolves")),
        ("cat", r"\b(?:cats?|kittens?|meow\w*|purr\w*)\b",
         ("Cat", "Purr", "Meow", "Hiss", "Caterwaul")),
        ("rooster", r"\b(?:roosters?|chickens?|hens?|cluck\w*|crowing)\b",
         ("Chicken, rooster", "Cluck", "Crowing, cock-a-doodle-doo")),
        ("cow", r"\b(?:cows?|cattle|moo\w*)\b", ("Cattle, bovinae", "Moo")),
        ("pig", r"\b(?:pigs?|oink\w*)\b", ("Pig", "Oink")),
        ("sheep", r"\b(?:sheep|goats?|lambs?|bleat\w*)\b", ("Goat", "Bleat", "Sheep")),
        ("horse", r"\b(?:horses?|neigh\w*|whinn\w*)\b", ("Horse", "Clip-clop", "Neigh, whinny")),
        ("duck", r"\b(?:ducks?|quack\w*|geese|goose)\b", ("Duck", "Quack", "Goose", "Honk")),
        ("frog", r"\b(?:frogs?|toads?|croak\w*)\b", ("Frog", "Croak")),
        ("bird", r"\b(?:birds?|chirp\w*|tweet\w*|songbirds?|pigeons?|crows|owls?)\b",
         ("Bird", "Bird vocalization, bird call, bird song", "Chirp, tweet", "Squawk",
          "Pigeon, dove", "Coo", "Crow", "Caw", "Owl", "Hoot")),
    ]
}  # fmt: skip


def note_to_midi(name: str, accidental: str, octave: int) -> int:
    shift = {"#": 1, "♯": 1, "b": -1, "♭": -1}.get(accidental, 0)
    return 12 * (octave + 1) + _SEMITONE[name.lower()] + shift


def midi_to_hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def parse_note(prompt: str) -> float | None:
    """The pitch (Hz) a prompt asks for: a note name with octave, "middle C", or "N Hz"."""
    if re.search(r"\bmiddle c\b", prompt, re.I):
        return midi_to_hz(60)
    m = re.search(r"\b(\d+(?:\.\d+)?)\s*hz\b", prompt, re.I)
    if m:
        return float(m.group(1))
    m = _NOTE_RE.search(prompt)
    if m and (m.group(1).isupper() or m.group(2)):  # "a4 paper" is not a note; "A4" is
        return midi_to_hz(note_to_midi(m.group(1), m.group(2), int(m.group(3))))
    return None


def parse_count(prompt: str) -> int | None:
    """N from "N knocks", "three loud claps", ... or None."""
    m = _COUNT_RE.search(prompt)
    if not m:
        return None
    word = m.group(1).lower()
    return int(word) if word.isdigit() else _NUMBERS[word]


def parse_trend(prompt: str) -> int | None:
    """+1 for "getting louder"-like prompts, -1 for "fading out"-like ones, else None."""
    if _LOUDER.search(prompt):
        return 1
    if _QUIETER.search(prompt):
        return -1
    return None


def mentions_speech(prompt: str) -> bool:
    return bool(_SPEECH.search(prompt))


def animal_of(prompt: str) -> str | None:
    """The animal a prompt names (a key of `ANIMALS`), or None."""
    for name, (rx, _) in ANIMALS.items():
        if rx.search(prompt):
            return name
    return None


def estimate_pitch(
    wav: np.ndarray,
    sr: int,
    method: Literal["pyin", "yin"] = "pyin",
    fmin: float = 32.7,
    fmax: float = 2093.0,
) -> float | None:
    """Median f0 (Hz) over voiced frames (pYIN) or all frames (YIN); None if unvoiced.

    pYIN's first call in a process compiles numba code (seconds); YIN is instant.
    """
    import librosa

    y = np.asarray(wav, np.float32)
    frame = 2048 if sr > 20000 else 1024
    frame = max(frame, int(2 * sr / fmin) + 1)
    if y.shape[0] < frame:
        return None
    if method == "pyin":
        f0, voiced, _ = librosa.pyin(y, fmin=fmin, fmax=fmax, sr=sr, frame_length=frame)
        f0 = f0[voiced & np.isfinite(f0)]
    else:
        f0 = librosa.yin(y, fmin=fmin, fmax=fmax, sr=sr, frame_length=frame)
    return float(np.median(f0)) if f0.size else None


def cents(f0: float, target: float) -> float:
    return 1200.0 * math.log2(f0 / target)


def count_onsets(wav: np.ndarray, sr: int) -> int:
    """Number of onsets librosa detects (spectral-flux envelope, backtracking off)."""
    import librosa

    y = np.asarray(wav, np.float32)
    if not np.any(y):
        return 0
    return len(librosa.onset.onset_detect(y=y, sr=sr, units="frames"))


def loudness_slope(wav: np.ndarray, sr: int, frame_s: float = 0.05) -> float:
    """Slope (dB per second) of a least-squares line through the RMS level in dBFS.

    Frames more than 60 dB below the loudest are left out (silence has no level).
    """
    y = np.asarray(wav, np.float64)
    n = max(1, int(frame_s * sr))
    frames = y[: len(y) // n * n].reshape(-1, n)
    if frames.shape[0] < 2:
        return 0.0
    level = 20 * np.log10(np.sqrt((frames**2).mean(1)) + 1e-12)
    keep = level > level.max() - 60
    t = (np.arange(frames.shape[0]) + 0.5) * n / sr
    if keep.sum() < 2:
        return 0.0
    return float(np.polyfit(t[keep], level[keep], 1)[0])


def speech_score(patch_probs: np.ndarray) -> float:
    """The most likely speech class's clip-mean probability, from YAMNet's [P, 521]."""
    probs = patch_probs.mean(0)
    return float(max(probs[i] for i in SPEECH_CLASSES))


def animal_score(patch_probs: np.ndarray, names: Sequence[str], animal: str) -> float:
    """The highest probability of any of ``animal``'s classes in any patch, from [P, 521]."""
    idx = [names.index(c) for c in ANIMALS[animal][1]]
    return float(patch_probs[:, idx].max())


def speech_probability(wav: np.ndarray, sr: int, yamnet: YAMNet) -> float:
    """Clip-mean YAMNet probability of the most likely speech class (0–1)."""
    return speech_score(yamnet.patch_probabilities(wav, sr))


def animal_probability(wav: np.ndarray, sr: int, yamnet: YAMNet, animal: str) -> float:
    """The highest YAMNet probability of any of ``animal``'s classes in any patch (0–1)."""
    return animal_score(yamnet.patch_probabilities(wav, sr), yamnet.names, animal)


@dataclass
class ProbeResult:
    probe: str
    expected: Any
    measured: Any
    passed: bool


def probe(
    prompt: str,
    wav: np.ndarray,
    sr: int,
    yamnet: YAMNet | None = None,
    pitch_method: Literal["pyin", "yin"] = "pyin",
    cents_tolerance: float = 50.0,
    speech_threshold: float = 0.5,
    animal_threshold: float = 0.5,
) -> list[ProbeResult]:
    """Run the probes that ``prompt`` calls for on one clip."""
    results: list[ProbeResult] = []
    target = parse_note(prompt)
    if target is not None:
        f0 = estimate_pitch(wav, sr, pitch_method)
        err = None if f0 is None else cents(f0, target)
        ok = err is not None and abs(err) <= cents_tolerance
        results.append(ProbeResult("pitch_cents", round(target, 2), err, ok))
    count = parse_count(prompt)
    if count is not None:
        found = count_onsets(wav, sr)
        results.append(ProbeResult("onsets", count, found, found == count))
    trend = parse_trend(prompt)
    if trend is not None:
        slope = loudness_slope(wav, sr)
        results.append(ProbeResult("loudness_db_per_s", trend, slope, slope * trend > 1.0))
    speech, animal = mentions_speech(prompt), animal_of(prompt)
    if yamnet is not None and (speech or animal is not None):
        patch_probs = yamnet.patch_probabilities(wav, sr)  # one YAMNet pass for both probes
        if speech:
            p = speech_score(patch_probs)
            results.append(ProbeResult("speech_probability", True, p, p >= speech_threshold))
        if animal is not None:
            p = animal_score(patch_probs, yamnet.names, animal)
            results.append(ProbeResult("animal_probability", animal, p, p >= animal_threshold))
    return results


#: Table labels of `probe_clips`' keys.
PROBE_LABELS = {
    "pitch_cents_n": "pitch probe: clips",
    "pitch_cents_pass": "pitch probe: within 50 cents ↑",
    "pitch_cents_abs_median": "pitch probe: median |error| (cents) ↓",
    "onsets_n": "onset-count probe: clips",
    "onsets_pass": "onset-count probe: exact ↑",
    "loudness_db_per_s_n": "loudness-trend probe: clips",
    "loudness_db_per_s_pass": "loudness-trend probe: right direction ↑",
    "speech_probability_n": "speech probe: clips",
    "speech_probability_pass": "speech probe: YAMNet speech ≥ 0.5 ↑",
    "speech_probability_mean": "speech probe: mean speech probability ↑",
    "animal_probability_n": "animal probe: clips",
    "animal_probability_pass": "animal probe: YAMNet animal class ≥ 0.5 in a patch ↑",
    "animal_probability_mean": "animal probe: mean best-patch probability ↑",
}


def probe_clips(
    clips: Mapping[str, tuple[str, str | os.PathLike[str]]],
    yamnet: YAMNet | None = None,
    pitch_method: Literal["pyin", "yin"] = "pyin",
) -> dict[str, float]:
    """Run `probe` on files ``{name: (prompt, path)}`` and summarise each probe over the
    clips whose prompt called for it: ``<probe>_n`` (clips), ``<probe>_pass`` (share that
    passed), the median |cents| error of pitch and the mean speech probability.
    Returns ``{}`` when no prompt calls for a probe (no file is read then)."""
    from foleyldm.audio.io import load_audio

    found: dict[str, list[ProbeResult]] = {}
    for prompt, path in clips.values():
        wants_yamnet = yamnet is not None and (mentions_speech(prompt) or animal_of(prompt))
        asks = (parse_note(prompt), parse_count(prompt), parse_trend(prompt))
        if all(x is None for x in asks) and not wants_yamnet:
            continue
        wav, sr = load_audio(path, sample_rate=None)
        for r in probe(prompt, wav.numpy(), sr, yamnet, pitch_method):
            found.setdefault(r.probe, []).append(r)
    out: dict[str, float] = {}
    for name, results in found.items():
        out[f"{name}_n"] = float(len(results))
        out[f"{name}_pass"] = float(np.mean([r.passed for r in results]))
        measured = [float(r.measured) for r in results if r.measured is not None]
        if name == "pitch_cents" and measured:
            out["pitch_cents_abs_median"] = float(np.median(np.abs(measured)))
        if name in ("speech_probability", "animal_probability") and measured:
            out[f"{name}_mean"] = float(np.mean(measured))
    return out
