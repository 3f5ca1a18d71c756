"""clinic sessions and bookings (SPEC §13): sessions, bookings, and the links each booking covers

Revision ID: 933bd812354f
Revises: a1c0f3e2b7d4
Create Date: 2026-12-06 03:59:10.735671

"""
from alembic import op
import sqlalchemy as sa



revision = '933bd812354f'
down_revision = 'a1c0f3e2b7d4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('clinic_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('room', sa.String(length=100), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('lecture_id', sa.Integer(), nullable=True),
    sa.Column('teacher_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('capacity >= 1', name=op.f('ck_clinic_session_capacity_positive')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_clinic_session_ends_after_start')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_clinic_session_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lecture_id'], ['lecture.id'], name=op.f('fk_clinic_session_lecture_id_lecture'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['teacher_id'], ['user_account.id'], name=op.f('fk_clinic_session_teacher_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinic_session'))
    )
    with op.batch_alter_table('clinic_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinic_session_lecture_id'), ['lecture_id'], unique=False)
        batch_op.create_index('ix_clinic_session_starts', ['starts_at'], unique=False)

    op.create_table('clinic_booking',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_session_id', sa.Integer(), nullable=False),
    sa.Column('enrollment_id', sa.Integer(), nullable=False),
    sa.Column('attendance', sa.String(length=10), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('cancelled_by_id', sa.Integer(), nullable=True),
    sa.Column('marked_by_id', sa.Integer(), nullable=True),
    sa.Column('marked_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("attendance IS NULL OR attendance IN ('attended', 'no_show')", name=op.f('ck_clinic_booking_attendance')),
    sa.ForeignKeyConstraint(['cancelled_by_id'], ['user_account.id'], name=op.f('fk_clinic_booking_cancelled_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['clinic_session_id'], ['clinic_session.id'], name=op.f('fk_clinic_booking_clinic_session_id_clinic_session'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_clinic_booking_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollment.id'], name=op.f('fk_clinic_booking_enrollment_id_enrollment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['marked_by_id'], ['user_account.id'], name=op.f('fk_clinic_booking_marked_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinic_booking'))
    )
    with op.batch_alter_table('clinic_booking', schema=None) as batch_op:
        batch_op.create_index('ix_clinic_booking_enrollment', ['enrollment_id'], unique=False)
        batch_op.create_index('uq_clinic_booking_active', ['clinic_session_id', 'enrollment_id'], unique=True, sqlite_where=sa.text("cancelled_at IS NULL AND (attendance IS NULL OR attendance <> 'no_show')"), postgresql_where=sa.text("cancelled_at IS NULL AND (attendance IS NULL OR attendance <> 'no_show')"))

    op.create_table('clinic_booking_link',
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['clinic_booking.id'], name=op.f('fk_clinic_booking_link_booking_id_clinic_booking'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['link_id'], ['clinic_link.id'], name=op.f('fk_clinic_booking_link_link_id_clinic_link'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('booking_id', 'link_id', name=op.f('pk_clinic_booking_link'))
    )
    with op.batch_alter_table('clinic_booking_link', schema=None) as batch_op:
        batch_op.create_index('uq_clinic_booking_link_active', ['link_id'], unique=True, sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))



def downgrade():
    with op.batch_alter_table('clinic_booking_link', schema=None) as batch_op:
        batch_op.drop_index('uq_clinic_booking_link_active', sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))

    op.drop_table('clinic_booking_link')
    with op.batch_alter_table('clinic_booking', schema=None) as batch_op:
        batch_op.drop_index('uq_clinic_booking_active', sqlite_where=sa.text("cancelled_at IS NULL AND (attendance IS NULL OR attendance <> 'no_show')"), postgresql_where=sa.text("cancelled_at IS NULL AND (attendance IS NULL OR attendance <> 'no_show')"))
        batch_op.drop_index('ix_clinic_booking_enrollment')

    op.drop_table('clinic_booking')
    with op.batch_alter_table('clinic_session', schema=None) as batch_op:
        batch_op.drop_index('ix_clinic_session_starts')
        batch_op.drop_index(batch_op.f('ix_clinic_session_lecture_id'))

    op.drop_table('clinic_session')
