"""An articles API in the style of the RealWorld (Conduit) backends, for the smoke suite.

Run it with ``uvicorn articles_api.main:create_app --factory --app-dir examples/articles``
(see ../CONTRACT.md). Nothing is imported here: the launcher loads ``passwords.py`` on its own.
"""
