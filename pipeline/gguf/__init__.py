"""GGUF artifacts: conversion and quantization with llama.cpp's own tools."""
