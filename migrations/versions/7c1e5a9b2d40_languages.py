"""the language a person reads their mail in, and an invitation's

Revision ID: 7c1e5a9b2d40
Revises: d3aac8082e37
Create Date: 2026-12-01 13:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c1e5a9b2d40'
down_revision = 'd3aac8082e37'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=8), nullable=True))
    with op.batch_alter_table('invitations') as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table('invitations') as batch_op:
        batch_op.drop_column('locale')
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('locale')
