"""clients.client_uri, clients.logo_uri: the app's home page and logo on the sign-in pages

Revision ID: 7c1e4a9b2d60
Revises: 7c41e2b9d5a8
Create Date: 2026-12-01 13:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '7c1e4a9b2d60'
down_revision = '7c41e2b9d5a8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('clients') as batch_op:
        batch_op.add_column(sa.Column('client_uri', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('logo_uri', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('clients') as batch_op:
        batch_op.drop_column('logo_uri')
        batch_op.drop_column('client_uri')
