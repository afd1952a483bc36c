"""DVC stage: held-out evaluation text and training text, as Parquet (params: corpus)."""

from pipeline.corpus import CorpusSpec, build_corpus
from pipeline.stage import run_stage

run_stage(__doc__, (), lambda settings, layout: build_corpus(layout.corpus,
                                                            settings.read("corpus", CorpusSpec).eval_every))
