"""The service's dashboard (``/ui``): HTML pages over the run history, for people at a screen.

:mod:`.routes` holds the FastAPI router the app includes; :mod:`.views` shapes the history for
the pages, :mod:`.charts` draws their SVG charts, :mod:`.access` signs people in and checks the
CSRF token of each form. The templates (``templates/``) and the stylesheet and script
(``static/``) ship in the package: no CDN, nothing fetched by the browser from elsewhere.
"""
