"""Flow steps belong to a session and, once signed in, to a user: deleted with the account.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 07:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    # The steps recorded so far hold raw state and nonce values and the identities of whoever
    # signed in, under a cookie that no longer names them: none of it may stay.
    op.execute(sa.text('DELETE FROM flow_steps'))
    with op.batch_alter_table('flow_steps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_flow_steps_user_id'), ['user_id'], unique=False)
        batch_op.create_foreign_key(
            'fk_flow_steps_user_id_users', 'users', ['user_id'], ['id'], ondelete='CASCADE'
        )


def downgrade():
    with op.batch_alter_table('flow_steps', schema=None) as batch_op:
        batch_op.drop_constraint('fk_flow_steps_user_id_users', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_flow_steps_user_id'))
        batch_op.drop_column('user_id')
