"""The officers' console: server-rendered pages (Jinja2) in Chinese and English."""
