"""Production WSGI entry point: `gunicorn -c gunicorn.conf.py wsgi:app` (README, docs/deployment.md)."""
from config import ProductionConfig
from network import create_app

# Refuses to start without SECRET_KEY and DATABASE_URL in the environment (ProductionConfig.check).
app = create_app(ProductionConfig)
