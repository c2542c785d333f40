"""initial schema

Revision ID: 91b9afd8b5e3
Revises: 
Create Date: 2026-11-24 00:57:47.366215
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '91b9afd8b5e3'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('worker_leases',
    sa.Column('worker_id', sa.String(length=80), nullable=False),
    sa.Column('host', sa.String(length=100), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('worker_id', name=op.f('pk_worker_leases'))
    )
    with op.batch_alter_table('worker_leases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_worker_leases_expires_at'), ['expires_at'], unique=False)

    op.create_table('areas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('family', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_areas')),
    sa.UniqueConstraint('code', name=op.f('uq_areas_code'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject_type', sa.String(length=32), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_subject', ['subject_type', 'subject_id'], unique=False)

    op.create_table('categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_categories')),
    sa.UniqueConstraint('code', name=op.f('uq_categories_code'))
    )
    op.create_table('departments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('sms_sender', sa.String(length=32), nullable=True),
    sa.Column('voice_sender', sa.String(length=32), nullable=True),
    sa.Column('email_sender', sa.String(length=254), nullable=True),
    sa.Column('email_sender_name', sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_departments')),
    sa.UniqueConstraint('code', name=op.f('uq_departments_code'))
    )
    op.create_table('recipient_lists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recipient_lists'))
    )
    op.create_table('templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('category_code', sa.String(length=32), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('channel_bodies', sa.JSON(), nullable=False),
    sa.Column('variables', sa.JSON(), nullable=False),
    sa.Column('correction_body', sa.Text(), nullable=False),
    sa.Column('cancellation_body', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_templates')),
    sa.UniqueConstraint('code', name=op.f('uq_templates_code'))
    )
    op.create_table('contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.String(length=64), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('line_user_id', sa.String(length=64), nullable=True),
    sa.Column('exercise_participant', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_contacts_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts')),
    sa.UniqueConstraint('external_id', name=op.f('uq_contacts_external_id')),
    sa.UniqueConstraint('line_user_id', name=op.f('uq_contacts_line_user_id'))
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index('ix_contacts_kind_active', ['kind', 'active'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_phone'), ['phone'], unique=False)

    op.create_table('operators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('api_token_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_operators_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operators')),
    sa.UniqueConstraint('api_token_hash', name=op.f('uq_operators_api_token_hash')),
    sa.UniqueConstraint('username', name=op.f('uq_operators_username'))
    )
    op.create_table('consents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('given_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_consents_contact_id_contacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consents'))
    )
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.create_index('ix_consents_contact_channel', ['contact_id', 'channel'], unique=False)

    op.create_table('contact_areas',
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_contact_areas_area_id_areas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_contact_areas_contact_id_contacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('contact_id', 'area_id', name=op.f('pk_contact_areas'))
    )
    op.create_table('contact_categories',
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_contact_categories_category_id_categories'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_contact_categories_contact_id_contacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('contact_id', 'category_id', name=op.f('pk_contact_categories'))
    )
    op.create_table('messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('overrides', sa.JSON(), nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('audience', sa.String(length=200), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('msg_type', sa.String(length=16), nullable=False),
    sa.Column('category_code', sa.String(length=32), nullable=True),
    sa.Column('references_id', sa.Integer(), nullable=True),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('planned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('meta', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['approved_by_id'], ['operators.id'], name=op.f('fk_messages_approved_by_id_operators')),
    sa.ForeignKeyConstraint(['created_by_id'], ['operators.id'], name=op.f('fk_messages_created_by_id_operators')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_messages_department_id_departments')),
    sa.ForeignKeyConstraint(['references_id'], ['messages.id'], name=op.f('fk_messages_references_id_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_state', ['state'], unique=False)

    op.create_table('recipient_list_members',
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_recipient_list_members_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['list_id'], ['recipient_lists.id'], name=op.f('fk_recipient_list_members_list_id_recipient_lists'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('list_id', 'contact_id', name=op.f('pk_recipient_list_members'))
    )
    op.create_table('deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('address', sa.String(length=254), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('batch_no', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('provider_id', sa.String(length=64), nullable=True),
    sa.Column('provider_status', sa.String(length=32), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error_code', sa.String(length=32), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sa.String(length=80), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_deliveries_contact_id_contacts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_deliveries_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('message_id', 'channel', 'address', name=op.f('uq_deliveries_message_id_channel_address'))
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_batch', ['message_id', 'channel', 'batch_no'], unique=False)
        batch_op.create_index('ix_deliveries_message_state', ['message_id', 'state'], unique=False)
        batch_op.create_index('ix_deliveries_provider_id', ['provider_id'], unique=False)
        batch_op.create_index('ix_deliveries_state_claimed', ['state', 'claimed_at'], unique=False)

    op.create_table('message_bodies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('subject', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_message_bodies_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_bodies')),
    sa.UniqueConstraint('message_id', 'channel', 'language', name=op.f('uq_message_bodies_message_id_channel_language'))
    )
    # ### end Alembic commands ###


def downgrade() -> None:
    op.drop_table('worker_leases')
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_table('message_bodies')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_state_claimed')
        batch_op.drop_index('ix_deliveries_provider_id')
        batch_op.drop_index('ix_deliveries_message_state')
        batch_op.drop_index('ix_deliveries_batch')

    op.drop_table('deliveries')
    op.drop_table('recipient_list_members')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_state')

    op.drop_table('messages')
    op.drop_table('contact_categories')
    op.drop_table('contact_areas')
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_index('ix_consents_contact_channel')

    op.drop_table('consents')
    op.drop_table('operators')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_phone'))
        batch_op.drop_index('ix_contacts_kind_active')

    op.drop_table('contacts')
    op.drop_table('templates')
    op.drop_table('recipient_lists')
    op.drop_table('departments')
    op.drop_table('categories')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_subject')

    op.drop_table('audit_log')
    op.drop_table('areas')
    # ### end Alembic commands ###
