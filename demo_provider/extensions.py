"""The demo provider's own Flask extensions, created unbound: its database and its CSRF guard.

They are separate objects from the client's, so the two apps never share a session or a table.
"""

from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for the demo provider's tables only."""


db = SQLAlchemy(model_class=Base)
csrf = CSRFProtect()
