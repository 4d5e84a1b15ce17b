"""Synthesized speech with espeak-ng: voices, male/female variants, pace and language,
captioned "a woman speaking quickly in English" (and with the words said).

Needs the ``espeak-ng`` program (Debian package espeak-ng); `available` checks for it.
The voice is formant-synthesized and sounds robotic; the second caption says so.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

from foleyldm.audio.io import save_audio
from foleyldm.data.manifest import ClipRecord, split_for, write_manifest

LANGUAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "en-us": (
        "English",
        (
            "The train to the city leaves in ten minutes.",
            "Please close the door behind you when you leave.",
            "It looks like it is going to rain this afternoon.",
            "Could you tell me the way to the station?",
            "The concert starts at eight, so we should hurry.",
        ),
    ),
    "en-gb": (
        "British English",
        (
            "Would you like a cup of tea before we start?",
            "The weather has been dreadful all week.",
            "Mind the gap between the train and the platform.",
        ),
    ),
    "fr": (
        "French",
        (
            "Bonjour, je voudrais un café, s'il vous plaît.",
            "Le train part dans dix minutes.",
            "Il fait très beau aujourd'hui.",
        ),
    ),
    "de": (
        "German",
        (
            "Guten Morgen, wie geht es Ihnen heute?",
            "Der Zug fährt in zehn Minuten ab.",
            "Das Wetter ist heute sehr schön.",
        ),
    ),
    "es": (
        "Spanish",
        (
            "Buenos días, ¿cómo estás?",
            "El tren sale en diez minutos.",
            "Hace mucho calor esta tarde.",
        ),
    ),
    "it": (
        "Italian",
        (
            "Buongiorno, vorrei un caffè, per favore.",
            "Il treno parte tra dieci minuti.",
        ),
    ),
}
VOICES = {"man": ("m1", "m3", "m5", "m7"), "woman": ("f1", "f2", "f3", "f4")}
PACES = {"slowly": 115, "": 165, "quickly": 235}  # words per minute


def available() -> bool:
    return shutil.which("espeak-ng") is not None


@dataclass
class Utterance:
    text: str
    language: str  # espeak-ng voice, e.g. "en-us"
    speaker: str  # "man" or "woman"
    variant: str  # espeak-ng variant, e.g. "f3"
    pace: str  # "slowly", "" or "quickly"
    pitch: int = 50  # espeak-ng pitch 0..99

    @property
    def caption(self) -> str:
        pace = f" {self.pace}" if self.pace else ""
        return f"a {self.speaker} speaking{pace} in {LANGUAGES[self.language][0]}"

    @property
    def captions(self) -> list[str]:
        return [self.caption, f'a synthetic {self.speaker}\'s voice saying "{self.text}"']


def speak(u: Utterance, sample_rate: int = 16000) -> np.ndarray:
    """Run espeak-ng and return mono float32 [N] at ``sample_rate``.

    Raises:
        FileNotFoundError: espeak-ng is not installed. RuntimeError: it failed.
    """
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError("espeak-ng not found (apt-get install espeak-ng)")
    cmd = [
        exe,
        "-v",
        f"{u.language}+{u.variant}",
        "-s",
        str(PACES[u.pace]),
        "-p",
        str(u.pitch),
        "--stdout",
        u.text,
    ]
    res = subprocess.run(cmd, capture_output=True, timeout=60)
    if res.returncode != 0 or not res.stdout:
        raise RuntimeError(f"espeak-ng failed: {res.stderr.decode(errors='replace').strip()}")
    data, sr = sf.read(io.BytesIO(res.stdout), dtype="float32", always_2d=True)
    x = data[:, 0]
    if sr != sample_rate:
        x = soxr.resample(x, sr, sample_rate, quality="VHQ").astype(np.float32)
    return x


def random_utterance(rng: np.random.Generator) -> Utterance:
    lang = str(rng.choice(list(LANGUAGES)))
    speaker = str(rng.choice(list(VOICES)))
    texts = LANGUAGES[lang][1]
    return Utterance(
        text=texts[int(rng.integers(len(texts)))],
        language=lang,
        speaker=speaker,
        variant=str(rng.choice(VOICES[speaker])),
        pace=str(rng.choice(list(PACES))),
        pitch=int(rng.integers(35, 70)),
    )


def write_speech_set(
    out_dir: str | os.PathLike[str], count: int, seed: int = 0, sample_rate: int = 16000
) -> list[ClipRecord]:
    """``count`` random utterances (clip i from (seed, i)) as FLAC plus a manifest."""
    records = []
    for i in range(count):
        u = random_utterance(np.random.default_rng([seed, i]))
        wav = speak(u, sample_rate)[: int(10.24 * sample_rate)]
        path = Path(out_dir) / "clips" / f"{seed}-{i:06d}.flac"
        save_audio(path, wav, sample_rate)
        params: dict[str, Any] = {
            "text": u.text,
            "language": u.language,
            "speaker": u.speaker,
            "variant": u.variant,
            "pace": u.pace,
            "pitch": u.pitch,
        }
        records.append(
            ClipRecord(
                path=str(path.resolve()),
                duration=round(wav.shape[0] / sample_rate, 6),
                sample_rate=sample_rate,
                channels=1,
                captions=u.captions,
                labels=["speech", u.language],
                source="foleyldm-espeak",
                license="CC0-1.0",
                split=split_for(f"speech/{seed}/{i}"),
                meta={"seed": seed, "index": i, "tool": "espeak-ng", "params": params},
            )
        )
    write_manifest(Path(out_dir) / "manifest.jsonl", records)
    return records
