"""The doctor schema. Only the doctor component reads or writes these tables.

One row a day of how much the appliance's databases hold, written by the portal every hour (the day's last
word stands): `appliance doctor` tells the growth from it, and when the disk fills at that pace.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, MetaData, Table

metadata = MetaData(schema="doctor")

database_sizes = Table(
    "database_sizes",
    metadata,
    Column("day", Date, primary_key=True),  # UTC
    Column("bytes", BigInteger, nullable=False),  # of the appliance's database and its hubs'
)
