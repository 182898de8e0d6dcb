"""Entry point of the app: ``streamlit run streamlit_app.py`` (the pages live in ``app/``)."""

from app.main import run

run()
