"""Links record the scopes asked for beside those granted; pending sign-ins, what they ask for.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 14:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    # Links made before this knew only what was granted; None reads as "as granted".
    with op.batch_alter_table('linked_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requested_scope', sa.Text(), nullable=True))
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.drop_column('scope')
    with op.batch_alter_table('linked_accounts', schema=None) as batch_op:
        batch_op.drop_column('requested_scope')
