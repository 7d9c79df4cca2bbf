"""grants.expires_at indexed: `idp purge` finds the expired families without a scan

Revision ID: 7c41e0a9b2d5
Revises: 8e4d1c2a7b90
Create Date: 2026-12-01 13:40:00

"""
from alembic import op


revision = '7c41e0a9b2d5'
down_revision = '8e4d1c2a7b90'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_grants_expires_at', 'grants', ['expires_at'])


def downgrade():
    op.drop_index('ix_grants_expires_at', table_name='grants')
