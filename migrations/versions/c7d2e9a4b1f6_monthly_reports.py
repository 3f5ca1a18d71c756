"""monthly reports: the teacher's comment per month and parent links

Revision ID: c7d2e9a4b1f6
Revises: 31177d9c7298
Create Date: 2026-12-06 04:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c7d2e9a4b1f6'
down_revision = '31177d9c7298'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrollment_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollment.id'], name=op.f('fk_report_comment_enrollment_id_enrollment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_report_comment_updated_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_comment')),
    sa.UniqueConstraint('enrollment_id', 'month', name=op.f('uq_report_comment_enrollment_id_month'))
    )
    op.create_table('report_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrollment_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_report_link_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollment.id'], name=op.f('fk_report_link_enrollment_id_enrollment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['user_account.id'], name=op.f('fk_report_link_revoked_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_link')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_report_link_token_hash'))
    )
    with op.batch_alter_table('report_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_link_enrollment_id'), ['enrollment_id'], unique=False)


def downgrade():
    with op.batch_alter_table('report_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_link_enrollment_id'))
    op.drop_table('report_link')
    op.drop_table('report_comment')
