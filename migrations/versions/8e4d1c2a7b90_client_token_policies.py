"""Client token policies: PKCE optional for confidential clients that send a nonce,
refresh tokens without offline_access only where registered; codes without a challenge;
the claims a code's ID token was asked for; back-channel logout URIs; DPoP (RFC 9449)

Revision ID: 8e4d1c2a7b90
Revises: 7c1e5a9b2d40
Create Date: 2026-12-01 13:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '8e4d1c2a7b90'
down_revision = '7c1e5a9b2d40'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('clients') as batch_op:
        batch_op.add_column(sa.Column('pkce_required', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('refresh_tokens_always', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('backchannel_logout_uri', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('dpop_bound', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('grants') as batch_op:
        batch_op.add_column(sa.Column('dpop_jkt', sa.String(length=64), nullable=True))
    with op.batch_alter_table('authorization_codes') as batch_op:
        batch_op.alter_column('code_challenge', existing_type=sa.String(length=128), nullable=True)
        batch_op.add_column(sa.Column('id_token_claims', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('grants') as batch_op:
        batch_op.drop_column('dpop_jkt')
    with op.batch_alter_table('authorization_codes') as batch_op:
        batch_op.drop_column('id_token_claims')
        batch_op.alter_column('code_challenge', existing_type=sa.String(length=128), nullable=False)
    with op.batch_alter_table('clients') as batch_op:
        batch_op.drop_column('dpop_bound')
        batch_op.drop_column('backchannel_logout_uri')
        batch_op.drop_column('refresh_tokens_always')
        batch_op.drop_column('pkce_required')
