"""Linked accounts remember how long their access token was issued for.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 07:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    # Unknown for the tokens stored so far: they keep the configured leeway until their next
    # refresh records it.
    with op.batch_alter_table('linked_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('access_token_lifetime', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('linked_accounts', schema=None) as batch_op:
        batch_op.drop_column('access_token_lifetime')
