"""Flask extensions, created unbound so that `create_app` binds them to each app it builds."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base shared by every model of the client app."""


# Objects keep what they hold when a transaction commits: a request reads the signed-in user
# once, outside any transaction (accounts.load_user), and uses it for the rest of the request.
# Code that needs the database's latest state after a commit reads it again, as the token
# refresh does under its row lock.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
# Per client address (behind proxies, the address ProxyFix recovers from X-Forwarded-For).
limiter = Limiter(key_func=get_remote_address)
