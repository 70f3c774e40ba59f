"""What a browser reads: the staff console (``/console``) and the public pages (``/``,
``/i/<tag>``), server-rendered from Jinja templates with a little JavaScript, every asset
served from ``static/`` here (no CDN). The JSON API is ``server.api``; the pages call the
same records and actions code it does, never the API over HTTP.

- ``rendering``: one template environment; every page gets its language's ``_`` (the
  message catalogues of ``toolhut.i18n``), the signed-in principal and a CSRF token.
- ``language``: which language a browser reads (Chinese unless it switched).
- ``guard``: who may see a console page (sign-in redirect, 403 page, never a trace).
- ``csrf``: the token every console form carries.
- ``forms``: a posted form, checked, and the per-field messages shown beside its fields.
"""
