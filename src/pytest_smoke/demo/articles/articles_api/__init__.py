"""An articles API in the style of the RealWorld (Conduit) backends, for the smoke suite.

Run it with ``uvicorn articles_api.main:create_app --factory --app-dir DIR``, DIR being the
directory above this package (see examples/articles/CONTRACT.md). Nothing is imported here: the
launcher loads ``passwords.py`` on its own.
"""
