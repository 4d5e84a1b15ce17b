"""Training every stage of the system: CLAP, VAE, vocoder and latent diffusion.

One small loop base (`base.Trainer`) and one module per stage that reads top to bottom
(`clap`, `vae`, `vocoder`, `ldm`); `runner` trains one stage or all four and exports a
release folder. Configs are dataclasses (`config`) loaded from YAML/JSON.
"""
