"""grants.access_revoked_at: an access token of the grant was revoked on its own

Revision ID: 5b2f0c7d9e41
Revises: aa3f5b4b1154
Create Date: 2026-12-01 11:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '5b2f0c7d9e41'
down_revision = 'aa3f5b4b1154'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('grants') as batch_op:
        batch_op.add_column(sa.Column('access_revoked_at', sa.BigInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table('grants') as batch_op:
        batch_op.drop_column('access_revoked_at')
