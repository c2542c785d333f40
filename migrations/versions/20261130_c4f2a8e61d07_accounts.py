"""Accounts: roles per department, named expiring API tokens, passwords, TOTP, session versions;
disabling departments, categories and areas; a department's approval policy

Revision ID: c4f2a8e61d07
Revises: 3b9e51f0c6d2
Create Date: 2026-11-30 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'c4f2a8e61d07'
down_revision: str | Sequence[str] | None = '3b9e51f0c6d2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'memberships',
        sa.Column('operator_id', sa.Integer(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['department_id'], ['departments.id'],
                                name=op.f('fk_memberships_department_id_departments')),
        sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], ondelete='CASCADE',
                                name=op.f('fk_memberships_operator_id_operators')),
        sa.PrimaryKeyConstraint('operator_id', 'department_id', name=op.f('pk_memberships')),
    )
    op.create_table(
        'api_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('operator_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], ondelete='CASCADE',
                                name=op.f('fk_api_tokens_operator_id_operators')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash')),
    )
    op.create_index(op.f('ix_api_tokens_operator_id'), 'api_tokens', ['operator_id'])
    with op.batch_alter_table('operators') as batch:
        batch.add_column(sa.Column('is_admin', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('can_override', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('password_hash', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('contact_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f('fk_operators_contact_id_contacts'), 'contacts', ['contact_id'], ['id'],
                                 ondelete='SET NULL')
    # An existing operator keeps what they had: admin stays admin, a role becomes that role in their department.
    op.execute("UPDATE operators SET is_admin = (role = 'admin')")
    op.execute(
        "INSERT INTO memberships (operator_id, department_id, role) "
        "SELECT id, department_id, role FROM operators WHERE department_id IS NOT NULL AND role <> 'admin'"
    )
    with op.batch_alter_table('operators') as batch:
        batch.drop_constraint('uq_operators_api_token_hash', type_='unique')
        batch.drop_column('api_token_hash')
        batch.drop_column('role')
    with op.batch_alter_table('departments') as batch:
        batch.add_column(sa.Column('approval', sa.String(length=16), nullable=False, server_default='residents'))
        batch.add_column(sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True))
    for table in ('categories', 'areas'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in ('categories', 'areas'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('disabled_at')
    with op.batch_alter_table('departments') as batch:
        batch.drop_column('disabled_at')
        batch.drop_column('approval')
    with op.batch_alter_table('operators') as batch:
        batch.add_column(sa.Column('role', sa.String(length=16), nullable=False, server_default='sender'))
        batch.add_column(sa.Column('api_token_hash', sa.String(length=64), nullable=True))
        batch.create_unique_constraint('uq_operators_api_token_hash', ['api_token_hash'])
    op.execute("UPDATE operators SET role = 'admin' WHERE is_admin")
    with op.batch_alter_table('operators') as batch:
        batch.drop_constraint(op.f('fk_operators_contact_id_contacts'), type_='foreignkey')
        for column in ('contact_id', 'disabled_at', 'session_version', 'totp_secret', 'must_change_password',
                       'password_hash', 'can_override', 'is_admin'):
            batch.drop_column(column)
    op.drop_index(op.f('ix_api_tokens_operator_id'), table_name='api_tokens')
    op.drop_table('api_tokens')
    op.drop_table('memberships')
