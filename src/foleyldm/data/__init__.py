"""Data: manifests, a built-in corpus, synthesized Foley, augmentation, datasets, shards, caches.

Modules: `manifest` (JSONL clip records), `captions` (path words → captions), `synth`
(physically modelled sound and rooms), `augment` (mixing, concatenation, gain),
`datasets` (torch datasets over manifests), `corpus` (Debian-package corpus builder),
`shards` (WebDataset tar shards), `cache` (encoder outputs on disk).
"""
