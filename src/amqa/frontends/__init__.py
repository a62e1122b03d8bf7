"""Thin front ends over amqa.service: the command line and the Gradio web UI."""
