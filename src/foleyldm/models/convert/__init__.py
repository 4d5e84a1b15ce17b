"""Converters from the original AudioLDM checkpoint layout to diffusers / transformers."""
