"""upstream providers, their links, and lazily migrated passwords

Revision ID: d3aac8082e37
Revises: 5b2f0c7d9e41
Create Date: 2026-12-01 10:15:34.087348

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd3aac8082e37'
down_revision = '5b2f0c7d9e41'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('upstreams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('issuer', sa.String(length=255), nullable=False),
    sa.Column('client_id', sa.String(length=255), nullable=False),
    sa.Column('client_secret_encrypted', sa.Text(), nullable=False),
    sa.Column('domains', sa.JSON(), nullable=False),
    sa.Column('trust_mfa', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('issuer'),
    sa.UniqueConstraint('name')
    )
    op.create_table('upstream_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('upstream_id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=255), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('last_used_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['upstream_id'], ['upstreams.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('issuer', 'subject', name='uq_upstream_links_identity'),
    sa.UniqueConstraint('user_id', 'upstream_id', name='uq_upstream_links_user_upstream')
    )
    with op.batch_alter_table('upstream_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_upstream_links_upstream_id'), ['upstream_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_upstream_links_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legacy_password', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('legacy_password')

    with op.batch_alter_table('upstream_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upstream_links_user_id'))
        batch_op.drop_index(batch_op.f('ix_upstream_links_upstream_id'))

    op.drop_table('upstream_links')
    op.drop_table('upstreams')
