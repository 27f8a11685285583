"""Links and pending sign-ins keep the DPoP proof key their tokens are bound to (encrypted).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 11:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    # Bearer tokens stored so far have no key, and need none.
    with op.batch_alter_table('linked_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dpop_key_ciphertext', sa.LargeBinary(), nullable=True))
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dpop_key_ciphertext', sa.LargeBinary(), nullable=True))


def downgrade():
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.drop_column('dpop_key_ciphertext')
    with op.batch_alter_table('linked_accounts', schema=None) as batch_op:
        batch_op.drop_column('dpop_key_ciphertext')
