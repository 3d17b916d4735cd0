"""Renderers: turn typed results into terminal, JSON, HTML and Markdown output."""
