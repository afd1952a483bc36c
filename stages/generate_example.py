"""DVC stage: generate and train the tiny-llama example decoder (params: examples.tiny-llama)."""

from pipeline.examples.tiny_llama import NAME, build_tiny_llama, read_examples
from pipeline.stage import run_stage

run_stage(__doc__, (), lambda settings, layout: build_tiny_llama(settings.read("examples", read_examples),
                                                                layout.corpus, layout.example(NAME)))
