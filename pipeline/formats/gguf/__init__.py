"""GGUF: one file run by llama.cpp, converted and quantized with llama.cpp's own tools."""

from pipeline.formats import register
from pipeline.formats.gguf.format import GGUF

register(GGUF())
