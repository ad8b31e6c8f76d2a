"""The canonical data model: entities, their columns, grain and checks.

Each source is mapped onto one of these entities (see ``DATA_MODEL.md``). Only ``required``
columns must be present; the rest are used when they exist. Columns a source brings beyond
these are kept as extra attributes (typed as text unless they parse as numbers).

Every core table declares its grain and its checks next to its definition, as dbt's schema
files do; ``crmine check`` runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CORE_TABLES",
    "ENTITIES",
    "MART_TABLES",
    "Check",
    "Column",
    "CoreTable",
    "Entity",
    "entity",
]

ColumnType = Literal["text", "int", "float", "bool", "date", "timestamp"]

# DuckDB type per canonical column type.
SQL_TYPES: dict[str, str] = {
    "text": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


@dataclass(frozen=True, slots=True)
class Column:
    """One canonical column.

    ``non_negative`` marks amounts where a negative value is a data error (prices, costs)
    rather than meaningful (quantities of returns).
    """

    name: str
    type: ColumnType
    required: bool = False
    non_negative: bool = False
    accepted: tuple[str, ...] | None = None
    pii: bool = False


@dataclass(frozen=True, slots=True)
class Entity:
    """A canonical source entity: what ``crmine ingest ENTITY FILE`` loads."""

    name: str
    grain: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    core_table: str
    # Either of these groups must be present (order lines need product_id or amount).
    required_any: tuple[tuple[str, ...], ...] = ()
    # Columns that must reference a known customer (rows with an unknown id are quarantined).
    customer_ref: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


STATUS_VALUES = ("completed", "returned", "cancelled")
GROUP_VALUES = ("treatment", "control")
# The grain of marketing_spend: any of these but the date may be absent from a source.
MARKETING_DIMENSIONS = ("date", "channel", "campaign", "ad_set", "ad", "age", "gender",
                        "interest")  # fmt: skip

ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity(
            name="customers",
            grain="one row per customer (history kept as SCD2 in core.dim_customer)",
            key=("customer_id",),
            core_table="core.dim_customer",
            columns=(
                Column("customer_id", "text", required=True),
                Column("name", "text", pii=True),
                Column("email", "text", pii=True),
                Column("phone", "text", pii=True),
                Column("gender", "text"),
                Column("birth_date", "date"),
                Column("age", "int", non_negative=True),
                Column("income", "float", non_negative=True),
                Column("occupation", "text"),
                Column("education", "text"),
                Column("address", "text", pii=True),
                Column("city", "text"),
                Column("region", "text"),
                Column("country", "text"),
                Column("signup_date", "date"),
                Column("acquisition_channel", "text"),
                # consent: true = opted out of marketing; left out of every target list
                Column("marketing_opt_out", "bool"),
            ),
        ),
        Entity(
            name="products",
            grain="one row per product",
            key=("product_id",),
            core_table="core.dim_product",
            columns=(
                Column("product_id", "text", required=True),
                Column("product_name", "text"),
                Column("category", "text"),
                Column("subcategory", "text"),
                Column("brand", "text"),
                Column("unit_price", "float", non_negative=True),
                Column("unit_cost", "float", non_negative=True),
            ),
        ),
        Entity(
            name="orders",
            grain="one row per order line",
            key=("order_id", "line_number"),
            core_table="core.fct_order_lines",
            required_any=(("product_id", "amount"),),
            columns=(
                Column("order_id", "text", required=True),
                # Assigned from the source row order within an order when the source has none.
                Column("line_number", "int"),
                # The source's own key of a line (a row id): line numbers then follow from it,
                # so an incremental export's new lines of an order never take an old number.
                Column("line_id", "text"),
                # Nullable: lines without a customer are kept as anonymous.
                Column("customer_id", "text", required=True),
                Column("order_ts", "timestamp", required=True),
                Column("product_id", "text"),
                Column("product_name", "text"),
                Column("quantity", "float"),
                Column("unit_price", "float", non_negative=True),
                Column("discount", "float", non_negative=True),
                # (amount - profit) / quantity when the source has a profit but no cost.
                Column("unit_cost", "float", non_negative=True),
                Column("profit", "float"),
                # quantity * unit_price - discount when the source has no amount.
                Column("amount", "float"),
                Column("channel", "text"),
                Column("sales_method", "text"),
                Column("promotion_id", "text"),
                Column("status", "text", accepted=STATUS_VALUES),
                Column("country", "text"),
            ),
        ),
        Entity(
            name="events",
            grain="one row per customer touch",
            key=(),
            core_table="core.fct_events",
            customer_ref=True,
            columns=(
                Column("event_id", "text"),
                Column("customer_id", "text", required=True),
                Column("event_ts", "timestamp", required=True),
                Column("event_type", "text", required=True),
                Column("channel", "text"),
                Column("campaign_id", "text"),
                Column("stage", "text"),
                Column("value", "float"),
                Column("cost", "float", non_negative=True),
                Column("duration", "float", non_negative=True),
                Column("page", "text"),
                Column("product_id", "text"),
            ),
        ),
        Entity(
            name="campaigns",
            grain="one row per campaign",
            key=("campaign_id",),
            core_table="core.dim_campaign",
            columns=(
                Column("campaign_id", "text", required=True),
                Column("campaign_name", "text"),
                Column("channel", "text"),
                Column("start_date", "date"),
                Column("end_date", "date"),
                Column("cost", "float", non_negative=True),
                Column("promotion_type", "text"),
                Column("target_segment", "text"),
                Column("has_control_group", "bool"),
            ),
        ),
        Entity(
            name="campaign_assignments",
            grain="one row per customer per campaign",
            key=("campaign_id", "customer_id"),
            core_table="core.campaign_assignments",
            customer_ref=True,
            columns=(
                Column("campaign_id", "text", required=True),
                Column("customer_id", "text", required=True),
                Column("group", "text", accepted=GROUP_VALUES),
                Column("responded", "bool"),
                Column("response_ts", "timestamp"),
                Column("revenue", "float"),
            ),
        ),
        Entity(
            name="tickets",
            grain="one row per service contact",
            key=("ticket_id",),
            core_table="core.fct_tickets",
            customer_ref=True,
            columns=(
                Column("ticket_id", "text", required=True),
                Column("customer_id", "text", required=True),
                Column("opened_ts", "timestamp", required=True),
                Column("closed_ts", "timestamp"),
                Column("category", "text"),
                Column("channel", "text"),
                Column("priority", "text"),
                Column("agent_group", "text"),  # the team that handled it, where recorded
                Column("is_complaint", "bool"),
                Column("csat", "float"),
                Column("text", "text"),
            ),
        ),
        Entity(
            name="subscriptions",
            grain="one row per contract",
            key=("subscription_id",),
            core_table="core.fct_subscriptions",
            customer_ref=True,
            columns=(
                # Derived from customer_id + start_date when the source has none.
                Column("subscription_id", "text"),
                Column("customer_id", "text", required=True),
                Column("start_date", "date", required=True),
                Column("end_date", "date"),
                Column("plan", "text"),
                Column("contract_type", "text"),
                Column("monthly_charge", "float", non_negative=True),
                Column("total_charges", "float", non_negative=True),
                Column("payment_method", "text"),
                Column("churned", "bool"),
            ),
        ),
        Entity(
            name="surveys",
            grain="one row per survey response",
            key=(),
            core_table="core.fct_surveys",
            customer_ref=True,
            columns=(
                Column("customer_id", "text", required=True),
                Column("response_ts", "timestamp", required=True),
                Column("nps", "float"),
                Column("csat", "float"),
                Column("text", "text"),
                Column("channel", "text"),  # where the survey was answered (email, app...)
            ),
        ),
        Entity(
            name="marketing_spend",
            grain="one row per period x channel x campaign x ad set x ad x audience (age band, "
                  "gender, interest) as the ad platform exports it",
            key=MARKETING_DIMENSIONS,
            core_table="core.fct_marketing_spend",
            columns=(
                # The reporting day (or the first day of the week/month the row covers).
                Column("date", "date", required=True),
                # Dimensions the source lacks are "(all)"; blank ones "(none)".
                Column("channel", "text"),
                Column("campaign", "text"),
                Column("ad_set", "text"),
                Column("ad", "text"),
                Column("age", "text"),
                Column("gender", "text"),
                Column("interest", "text"),
                Column("spend", "float", required=True, non_negative=True),
                Column("impressions", "float", non_negative=True),
                Column("clicks", "float", non_negative=True),
                Column("conversions", "float", non_negative=True),
                # A second, stricter result: approved / qualified conversions.
                Column("approved_conversions", "float", non_negative=True),
                Column("revenue", "float", non_negative=True),
            ),
        ),
        Entity(
            name="marketing_outcomes",
            grain="one row per period (day or week): the business outcome the media should "
                  "move, and the controls that move it too",
            key=("date",),
            core_table="core.fct_marketing_outcomes",
            columns=(
                Column("date", "date", required=True),
                # All sales (every channel, online and offline), not what the platforms claim.
                Column("revenue", "float"),
                Column("conversions", "float", non_negative=True),
                # Controls: average price, promotion intensity (0-1 or 0/1), holiday flag.
                # Further numeric columns of the source are used as controls too.
                Column("price", "float", non_negative=True),
                Column("promotion", "float"),
                Column("holiday", "float"),
            ),
        ),
        Entity(
            name="promotion_calendar",
            grain="one row per promotion (planned or past): its days and what it covers",
            key=("promotion_id",),
            core_table="core.dim_promotion_calendar",
            columns=(
                # Derived from start date and scope when the source has none.
                Column("promotion_id", "text"),
                Column("promotion_name", "text"),
                Column("start_date", "date", required=True),
                Column("end_date", "date"),  # inclusive; a one-day promotion when absent
                # The scope: blank (or absent) = every category / product / channel.
                Column("category", "text"),
                Column("product_id", "text"),
                Column("channel", "text"),
                Column("discount", "float", non_negative=True),  # share off: 0.2 = 20 %
            ),
        ),
        Entity(
            name="holidays",
            grain="one row per holiday day and place (a three-day festival is three rows)",
            key=("date", "name", "country", "region"),
            core_table="core.dim_holidays",
            columns=(
                Column("date", "date", required=True),
                Column("name", "text"),  # "holiday" when absent
                # Where it is kept: blank (or absent) = everywhere ("(all)").
                Column("country", "text"),
                Column("region", "text"),
            ),
        ),
    )
}


def entity(name: str) -> Entity:
    """Return the canonical entity called ``name`` (singular forms accepted)."""
    from crmine.exceptions import SchemaError

    aliases = {"customer": "customers", "product": "products", "order": "orders",
               "order_lines": "orders", "event": "events", "campaign": "campaigns",
               "assignments": "campaign_assignments", "ticket": "tickets",
               "subscription": "subscriptions", "survey": "surveys",
               "spend": "marketing_spend", "ad_spend": "marketing_spend",
               "outcomes": "marketing_outcomes", "sales": "marketing_outcomes",
               "promotions": "promotion_calendar", "holiday": "holidays"}  # fmt: skip
    key = aliases.get(name, name)
    if key not in ENTITIES:
        raise SchemaError(f"unknown entity {name!r}; choose one of: {', '.join(ENTITIES)}")
    return ENTITIES[key]


@dataclass(frozen=True, slots=True)
class Check:
    """A data test on a core table: ``unique``, ``not_null`` or ``accepted_values``."""

    kind: Literal["unique", "not_null", "accepted_values"]
    columns: tuple[str, ...]
    values: tuple[str, ...] = ()
    where: str = ""


@dataclass(frozen=True, slots=True)
class CoreTable:
    name: str
    grain: str
    checks: tuple[Check, ...] = field(default_factory=tuple)


CORE_TABLES: tuple[CoreTable, ...] = (
    CoreTable(
        "core.dim_customer",
        "one row per customer version (SCD2: valid_from/valid_to, is_current)",
        (
            Check("unique", ("customer_id", "valid_from")),
            Check("unique", ("customer_id",), where="is_current"),
            Check("not_null", ("customer_id", "valid_from", "is_current")),
        ),
    ),
    CoreTable(
        "core.dim_product",
        "one row per product",
        (Check("unique", ("product_id",)), Check("not_null", ("product_id",))),
    ),
    CoreTable(
        "core.dim_date",
        "one row per calendar day",
        (Check("unique", ("date",)), Check("not_null", ("date",))),
    ),
    CoreTable(
        "core.fct_order_lines",
        "one row per order line",
        (
            Check("unique", ("order_id", "line_number")),
            Check("not_null", ("order_id", "order_ts", "amount", "status")),
            Check("accepted_values", ("status",), STATUS_VALUES),
        ),
    ),
    CoreTable(
        "core.fct_events",
        "one row per customer touch",
        (Check("not_null", ("customer_id", "event_ts", "event_type")),),
    ),
    CoreTable(
        "core.dim_campaign",
        "one row per campaign",
        (Check("unique", ("campaign_id",)), Check("not_null", ("campaign_id",))),
    ),
    CoreTable(
        "core.campaign_assignments",
        "one row per customer per campaign",
        (
            Check("unique", ("campaign_id", "customer_id")),
            Check("not_null", ("campaign_id", "customer_id")),
            Check("accepted_values", ("group",), GROUP_VALUES),
        ),
    ),
    CoreTable(
        "core.fct_tickets",
        "one row per service contact",
        (Check("unique", ("ticket_id",)), Check("not_null", ("ticket_id", "customer_id"))),
    ),
    CoreTable(
        "core.fct_subscriptions",
        "one row per contract",
        (
            Check("unique", ("subscription_id",)),
            Check("not_null", ("subscription_id", "customer_id", "start_date")),
        ),
    ),
    CoreTable(
        "core.fct_surveys",
        "one row per survey response",
        (Check("not_null", ("customer_id", "response_ts")),),
    ),
    CoreTable(
        "core.fct_marketing_spend",
        "one row per period x channel x campaign x ad set x ad x audience",
        (Check("unique", MARKETING_DIMENSIONS), Check("not_null", ("date", "spend"))),
    ),
    CoreTable(
        "core.fct_marketing_outcomes",
        "one row per period",
        (Check("unique", ("date",)), Check("not_null", ("date",))),
    ),
    CoreTable(
        "core.dim_promotion_calendar",
        "one row per promotion",
        (Check("unique", ("promotion_id",)), Check("not_null", ("promotion_id", "start_date",
                                                                "end_date"))),
    ),
    CoreTable(
        "core.dim_holidays",
        "one row per holiday day and place",
        (Check("unique", ("date", "name", "country", "region")),
         Check("not_null", ("date", "name", "country", "region"))),
    ),
)


# The marts several analyses share; each analysis declares its own marts (crmine.contract).
MART_TABLES: tuple[CoreTable, ...] = (
    CoreTable(
        "marts.customer_scores",
        "one row per customer",
        (Check("unique", ("customer_id",)), Check("not_null", ("customer_id",))),
    ),
    CoreTable(
        "marts.analysis_verdicts",
        "one row per analysis that fitted something",
        (Check("unique", ("analysis",)), Check("not_null", ("analysis", "status")),
         Check("accepted_values", ("status",), ("informative", "weak", "not_informative"))),
    ),
)
