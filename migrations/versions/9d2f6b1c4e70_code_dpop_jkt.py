"""authorization_codes.dpop_jkt: the code bound to the client's DPoP key (RFC 9449 §10)

Revision ID: 9d2f6b1c4e70
Revises: 7c1e4a9b2d60
Create Date: 2026-12-01 17:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '9d2f6b1c4e70'
down_revision = '7c1e4a9b2d60'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('authorization_codes') as batch_op:
        batch_op.add_column(sa.Column('dpop_jkt', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('authorization_codes') as batch_op:
        batch_op.drop_column('dpop_jkt')
