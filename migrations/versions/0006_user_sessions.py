"""Sessions become rows (user_sessions), replacing the per-user session token; back-channel
logout tokens already accepted are remembered (accepted_logout_tokens); a pending sign-in may
carry the irreversible action a re-authentication was asked for (login_attempts.action).

Every browser signed in before this migration is signed out once: its cookie named the old
per-user token, which no longer exists.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 10:30:00

"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'user_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('provider', sa.String(length=64), nullable=True),
        sa.Column('subject', sa.String(length=255), nullable=True),
        sa.Column('sid', sa.String(length=255), nullable=True),
        sa.Column('browser', sa.String(length=100), nullable=False),
        sa.Column('authenticated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('end_reason', sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_user_sessions_user_id', ['user_id'], unique=False)
        batch_op.create_index('ix_user_sessions_provider_sid', ['provider', 'sid'], unique=False)
        batch_op.create_index(
            'ix_user_sessions_provider_subject', ['provider', 'subject'], unique=False
        )
    op.create_table(
        'accepted_logout_tokens',
        sa.Column('issuer', sa.String(length=2048), nullable=False),
        sa.Column('jti', sa.String(length=255), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('issuer', 'jti'),
    )
    with op.batch_alter_table('accepted_logout_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_accepted_logout_tokens_expires_at', ['expires_at'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_token')
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('action', sa.String(length=100), nullable=True))


def downgrade():
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.drop_column('action')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_token', sa.String(length=64), nullable=True))
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('session_token', sa.String))
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.select(users.c.id)).all():
        connection.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(session_token=secrets.token_urlsafe(32))
        )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('session_token', existing_type=sa.String(length=64), nullable=False)
    op.drop_table('accepted_logout_tokens')
    op.drop_table('user_sessions')
