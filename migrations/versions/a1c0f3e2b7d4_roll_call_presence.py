"""roll call presence on activities

Revision ID: a1c0f3e2b7d4
Revises: 9ca67d6379d0
Create Date: 2026-12-06 04:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a1c0f3e2b7d4'
down_revision = '9ca67d6379d0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('presence', sa.String(length=10), nullable=True))
        batch_op.create_check_constraint(
            'presence', "presence IN ('present', 'late', 'absent', 'excused')")


def downgrade():
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_constraint('presence', type_='check')
        batch_op.drop_column('presence')
