"""The Streamlit app and the ``vnbb`` command line.

``streamlit run streamlit_app.py`` (or ``./dev app``) shows the results store named by
``VNBB_STORE``; without one, the demo scenario is built once into the cache folder
(``VNBB_CACHE_DIR``). ``VNBB_BASEMAP=none`` turns the online basemap off.

Modules: ``main`` (page flow), ``data`` (store and cached loading), ``metrics`` (figures, pure
pandas), ``maps`` (offline folium layers), ``state`` (session choices, navigation), ``layout``
(sidebar, banners, sources, tables), ``i18n`` (all texts, vi/en), ``fmt`` (numbers per
language), ``jobs`` (imports run in the background), ``views/`` (national, province, operator
and data pages), ``cli`` (the command line).
"""
