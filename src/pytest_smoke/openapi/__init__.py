"""The deployment's OpenAPI document: read and validated, drafted into a checks file, held to.

- :mod:`.document`: where the document is (a path on the gateway, a URL, a local file), reading
  it (JSON or YAML) and validating it (openapi-spec-validator, through openapi-core).
- :mod:`.operations`: what it describes, operation by operation, ``$ref`` resolved by the
  library (jsonschema-path).
- :mod:`.samples`: values a schema accepts, for the bodies ``init`` drafts.
- :mod:`.draft`: ``smoke-gate init``: a checks file drafted from the document.
- :mod:`.contract`: the contract checks of ``[openapi]``: which operations, and whether an answer
  keeps to the document (openapi-core's response validation).

Needs the ``openapi`` extra (``pip install 'pytest-smoke-gate[openapi]'``); nothing here is
imported by the plugin at load time, only by ``init`` and by the suite's contract checks.
"""
