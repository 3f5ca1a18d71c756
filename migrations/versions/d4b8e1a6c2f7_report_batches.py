"""report batches: a whole lecture's monthly reports as one PDF, made outside the request

Revision ID: d4b8e1a6c2f7
Revises: c7e1d2f4a9b3
Create Date: 2026-12-06 06:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'd4b8e1a6c2f7'
down_revision = 'c7e1d2f4a9b3'
branch_labels = None
depends_on = None

ACTIVE = sa.text("state IN ('queued', 'running')")


def upgrade():
    op.create_table('report_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lecture_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('reports', sa.Integer(), nullable=True),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_report_batch_state')),
    sa.ForeignKeyConstraint(['lecture_id'], ['lecture.id'], name=op.f('fk_report_batch_lecture_id_lecture'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], name=op.f('fk_report_batch_requested_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_batch'))
    )
    with op.batch_alter_table('report_batch', schema=None) as batch_op:
        batch_op.create_index('uq_report_batch_active', ['lecture_id', 'month'], unique=True,
                              sqlite_where=ACTIVE, postgresql_where=ACTIVE)
        batch_op.create_index('ix_report_batch_lecture_month', ['lecture_id', 'month'], unique=False)


def downgrade():
    with op.batch_alter_table('report_batch', schema=None) as batch_op:
        batch_op.drop_index('ix_report_batch_lecture_month')
        batch_op.drop_index('uq_report_batch_active')
    op.drop_table('report_batch')
