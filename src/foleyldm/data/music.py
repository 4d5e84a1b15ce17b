"""Rendered instruments: notes, scales, chords, arpeggios and drum beats from a General
MIDI SoundFont, with exact captions ("a violin playing a slow ascending major scale in a
high register").

Needs a SoundFont (Debian ``fluid-soundfont-gm``: /usr/share/sounds/sf2/FluidR3_GM.sf2)
and the ``tinysoundfont`` package (``pip install --no-deps tinysoundfont``; its pyaudio
dependency is only for playback). `available` says whether both are there.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from foleyldm.audio.io import save_audio
from foleyldm.data.manifest import ClipRecord, split_for, write_manifest

DEFAULT_SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf3/default-GM.sf3",
)


@dataclass(frozen=True)
class Instrument:
    name: str  # caption noun, e.g. "violin"
    program: int  # General MIDI program, 0-based
    low: int  # lowest comfortable MIDI key
    high: int  # highest

    def doing(self) -> str:
        """ "an oboe playing", "steel drums playing", "a choir singing"."""
        verb = "singing" if self.name == "choir" else "playing"
        if self.name.endswith("drums"):
            return f"{self.name} {verb}"
        return f"{'an' if self.name[0] in 'aeiou' else 'a'} {self.name} {verb}"


INSTRUMENTS = [
    Instrument("piano", 0, 33, 96),
    Instrument("electric piano", 4, 40, 88),
    Instrument("harpsichord", 6, 41, 89),
    Instrument("glockenspiel", 9, 72, 108),
    Instrument("marimba", 12, 45, 96),
    Instrument("xylophone", 13, 65, 108),
    Instrument("church organ", 19, 36, 96),
    Instrument("accordion", 21, 53, 89),
    Instrument("acoustic guitar", 24, 40, 84),
    Instrument("electric guitar", 27, 40, 86),
    Instrument("double bass", 32, 28, 55),
    Instrument("violin", 40, 55, 100),
    Instrument("viola", 41, 48, 88),
    Instrument("cello", 42, 36, 76),
    Instrument("harp", 46, 36, 96),
    Instrument("string ensemble", 48, 36, 96),
    Instrument("choir", 52, 48, 79),
    Instrument("trumpet", 56, 55, 82),
    Instrument("trombone", 57, 40, 72),
    Instrument("tuba", 58, 28, 58),
    Instrument("french horn", 60, 41, 77),
    Instrument("alto saxophone", 65, 49, 81),
    Instrument("oboe", 68, 58, 91),
    Instrument("bassoon", 70, 34, 72),
    Instrument("clarinet", 71, 50, 91),
    Instrument("flute", 73, 60, 96),
    Instrument("pan flute", 75, 60, 96),
    Instrument("sitar", 104, 48, 84),
    Instrument("banjo", 105, 48, 84),
    Instrument("steel drums", 114, 52, 88),
]
TEMPI = {"slow": 66, "medium-tempo": 100, "fast": 150}  # beats per minute
DYNAMICS = {"softly": 45, "": 85, "loudly": 120}  # MIDI velocity
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11, 12), "minor": (0, 2, 3, 5, 7, 8, 10, 12)}
CHORDS = {"major": (0, 4, 7), "minor": (0, 3, 7)}
# General MIDI percussion keys (channel 10): kick 36, snare 38, closed hat 42, open 46, ride 51
BEATS = {
    "rock": [
        (0, 36),
        (0, 42),
        (1, 42),
        (2, 38),
        (2, 42),
        (3, 42),
        (4, 36),
        (4, 42),
        (5, 36),
        (5, 42),
        (6, 38),
        (6, 42),
        (7, 46),
    ],
    "funk": [
        (0, 36),
        (0, 42),
        (1, 42),
        (2, 38),
        (3, 36),
        (3, 42),
        (4, 42),
        (5, 38),
        (5, 42),
        (6, 36),
        (6, 42),
        (7, 38),
    ],
    "waltz": [(0, 36), (0, 51), (2, 38), (2, 51), (4, 38), (4, 51)],
}
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def midi_to_hz(key: float) -> float:
    return 440.0 * 2 ** ((key - 69) / 12)


def note_name(key: int) -> str:
    return f"{NOTE_NAMES[key % 12]}{key // 12 - 1}"


def find_soundfont(path: str | os.PathLike[str] | None = None) -> Path | None:
    for cand in [path] if path is not None else DEFAULT_SOUNDFONTS:
        if cand is not None and Path(cand).is_file():
            return Path(cand)
    return None


def available(soundfont: str | os.PathLike[str] | None = None) -> bool:
    """True when tinysoundfont imports and a SoundFont is found."""
    try:
        import tinysoundfont  # noqa: F401
    except ImportError:
        return False
    return find_soundfont(soundfont) is not None


@functools.lru_cache(maxsize=1)
def _soundfont_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


def _synth(soundfont: str, sample_rate: int) -> tuple[Any, int]:
    """A fresh synthesizer for each render: a reused one keeps channel state that makes a
    score render slightly differently after another (measured: up to 7e-4)."""
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=sample_rate)
    return synth, synth.sfload(_soundfont_bytes(soundfont))


@dataclass
class Score:
    """Notes to play: (start beat, MIDI key, length in beats, velocity), on one program."""

    program: int
    notes: list[tuple[float, int, float, int]]
    bpm: float
    drums: bool = False
    caption: str = ""
    params: dict[str, Any] = field(default_factory=dict)


def render(
    score: Score,
    sample_rate: int = 16000,
    soundfont: str | os.PathLike[str] | None = None,
    tail_s: float = 1.0,
) -> np.ndarray:
    """Render a score to mono float32 [N] (the SoundFont's own level, not normalised)."""
    sf2 = find_soundfont(soundfont)
    if sf2 is None:
        raise FileNotFoundError("no General MIDI SoundFont (apt-get install fluid-soundfont-gm)")
    synth, sfid = _synth(str(sf2), sample_rate)
    chan = 9 if score.drums else 0
    synth.program_select(chan, sfid, 128 if score.drums else 0, score.program, score.drums)
    spb = 60.0 / score.bpm * sample_rate  # samples per beat
    events = sorted(
        [(round(b * spb), 1, k, v) for b, k, _, v in score.notes]
        + [(round((b + d) * spb), 0, k, 0) for b, k, d, _ in score.notes]
    )  # note-offs (0) before note-ons (1) at the same sample
    out: list[np.ndarray] = []
    now = 0
    for at, on, key, vel in events:
        if at > now:
            out.append(np.frombuffer(synth.generate(at - now), dtype=np.float32).copy())
            now = at
        if on:
            synth.noteon(chan, key, vel)
        else:
            synth.noteoff(chan, key)
    out.append(np.frombuffer(synth.generate(int(tail_s * sample_rate)), dtype=np.float32).copy())
    stereo = np.concatenate(out).reshape(-1, 2)
    return stereo.mean(axis=1).astype(np.float32)


def _register(inst: Instrument, register: str, span: int) -> int:
    """A root key for ``register`` (low/middle/high third of the range) leaving ``span``."""
    lo, hi = inst.low, max(inst.low, inst.high - span)
    third = (hi - lo) / 3
    return round({"low": 0.3, "middle": 1.5, "high": 2.6}[register] * third + lo)


def random_score(rng: np.random.Generator) -> Score:
    """A random note, scale, chord, arpeggio or drum beat with its caption."""
    kind = str(
        rng.choice(["note", "scale", "chord", "arpeggio", "beat"], p=[0.2, 0.25, 0.2, 0.2, 0.15])
    )
    tempo = str(rng.choice(list(TEMPI)))
    dyn = str(rng.choice(list(DYNAMICS)))
    bpm, vel = float(TEMPI[tempo]), DYNAMICS[dyn]
    how = f", played {dyn}" if dyn else ""
    if kind == "beat":
        style = str(rng.choice(list(BEATS)))
        bars = int(rng.integers(2, 4))
        notes = [
            (bar * 4 + step / 2, key, 0.25, vel)
            for bar in range(bars)
            for step, key in BEATS[style]
        ]
        return Score(
            0,
            notes,
            bpm,
            True,
            f"a drum kit playing a {tempo} {style} beat{how}",
            {"kind": kind, "style": style, "tempo": tempo, "bpm": bpm, "velocity": vel},
        )
    inst = INSTRUMENTS[int(rng.integers(len(INSTRUMENTS)))]
    register = str(rng.choice(["low", "middle", "high"]))
    mode = str(rng.choice(["major", "minor"]))
    params: dict[str, Any] = {
        "kind": kind,
        "instrument": inst.name,
        "program": inst.program,
        "register": register,
        "tempo": tempo,
        "bpm": bpm,
        "velocity": vel,
    }
    place = f" in a {register} register"
    if kind == "note":
        key = _register(inst, register, 0)
        beats = float(rng.choice([1.0, 2.0, 3.0]))
        params["key"] = key
        return Score(
            inst.program,
            [(0.0, key, beats, vel)],
            bpm,
            False,
            f"{inst.doing()} a single {register} note, {note_name(key)}{how}",
            params,
        )
    root = _register(inst, register, 12)
    params.update(root=root, mode=mode)
    if kind == "scale":
        direction = str(rng.choice(["ascending", "descending"]))
        steps = SCALES[mode] if direction == "ascending" else SCALES[mode][::-1]
        notes = [(i * 1.0, root + s, 0.95, vel) for i, s in enumerate(steps)]
        params["direction"] = direction
        cap = f"{inst.doing()} a {tempo} {direction} {mode} scale{place}{how}"
        return Score(inst.program, notes, bpm, False, cap, params)
    if kind == "chord":
        n = int(rng.integers(1, 4))
        notes = [(i * 2.0, root + s, 1.9, vel) for i in range(n) for s in CHORDS[mode]]
        times = {1: "a", 2: "two", 3: "three"}[n]
        noun = "chord" if n == 1 else "chords"
        cap = f"{inst.doing()} {times} {mode} {noun}{place}{how}"
        return Score(inst.program, notes, bpm, False, cap, params)
    direction = str(rng.choice(["rising", "falling"]))
    tones = [*CHORDS[mode], 12]
    tones = tones if direction == "rising" else tones[::-1]
    notes = [(r * 2.0 + i * 0.5, root + s, 0.5, vel) for r in range(2) for i, s in enumerate(tones)]
    cap = f"{inst.doing()} a {tempo} {direction} {mode} arpeggio{place}{how}"
    return Score(inst.program, notes, bpm, False, cap, params)


def write_music_set(
    out_dir: str | os.PathLike[str],
    count: int,
    seed: int = 0,
    sample_rate: int = 16000,
    soundfont: str | os.PathLike[str] | None = None,
    max_seconds: float = 10.24,
) -> list[ClipRecord]:
    """Render ``count`` random scores (clip i from (seed, i)) to FLAC under
    ``out_dir/clips/`` with ``out_dir/manifest.jsonl``."""
    sf2 = find_soundfont(soundfont)
    real = sf2.resolve().name if sf2 is not None else ""
    licence = "MIT (FluidR3_GM SoundFont)" if "FluidR3" in real else f"see the licence of {real}"
    records = []
    for i in range(count):
        score = random_score(np.random.default_rng([seed, i]))
        wav = render(score, sample_rate, sf2)[: int(max_seconds * sample_rate)]
        peak = float(np.abs(wav).max(initial=0.0))
        wav = wav * (0.9 / peak) if peak > 0 else wav
        path = Path(out_dir) / "clips" / f"{seed}-{i:06d}.flac"
        save_audio(path, wav, sample_rate)
        category = "drum kit" if score.drums else str(score.params["instrument"])
        records.append(
            ClipRecord(
                path=str(path.resolve()),
                duration=round(wav.shape[0] / sample_rate, 6),
                sample_rate=sample_rate,
                channels=1,
                captions=[score.caption],
                labels=[category, str(score.params["kind"])],
                source="foleyldm-music",
                license=licence,
                split=split_for(f"music/{seed}/{i}"),
                meta={"seed": seed, "index": i, "params": score.params},
            )
        )
    write_manifest(Path(out_dir) / "manifest.jsonl", records)
    return records
