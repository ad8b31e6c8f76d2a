"""Recognising source columns: common names map to canonical columns without a mapping file.

A source column is matched by its normalised name (lower case, no spaces/punctuation), so
``InvoiceNo``, ``invoice_no`` and ``Invoice No`` are the same. Explicit mappings (from
``crmine.toml`` or the command line) win over recognition. The special source name ``@row``
numbers rows by their position in the source (for sources without an order id, e.g. CDNOW).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from crmine.exceptions import IngestError
from crmine.warehouse._schema import Entity

__all__ = [
    "ROW_NUMBER",
    "ColumnMap",
    "DimensionAttributes",
    "dimension_attributes",
    "normalise_name",
    "resolve_columns",
]

ROW_NUMBER = "@row"

# canonical column -> recognised source names (normalised). Entity-specific first.
_COMMON: dict[str, tuple[str, ...]] = {
    "customer_id": (
        "customerid",
        "custid",
        "customer",
        "customerno",
        "customernumber",
        "clientid",
        "userid",
        "memberid",
        "客户id",
        "客户编号",
        "客户号",
        "会员id",
        "用户id",
    ),
    "order_id": (
        "orderid",
        "invoiceno",
        "invoice",
        "invoiceid",
        "invoicenumber",
        "orderno",
        "ordernumber",
        "transactionid",
        "订单号",
        "订单编号",
        "订单id",
    ),
    "line_number": ("linenumber", "lineno", "line", "orderline", "行号"),
    "line_id": ("lineid", "rowid", "orderlineid", "lineitemid", "itemlineid", "行id"),
    "order_ts": (
        "orderts",
        "invoicedate",
        "orderdate",
        "orderdatetime",
        "transactiondate",
        "purchasedate",
        "date",
        "datetime",
        "timestamp",
        "下单时间",
        "订单时间",
        "购买时间",
        "交易时间",
        "日期",
    ),
    "product_id": (
        "productid",
        "stockcode",
        "sku",
        "itemid",
        "productcode",
        "articleid",
        "商品id",
        "产品id",
        "商品编号",
        "产品编号",
    ),
    "product_name": (
        "productname",
        "description",
        "itemname",
        "product",
        "商品名称",
        "产品名称",
        "商品",
    ),
    "quantity": ("quantity", "qty", "units", "numberofitems", "数量", "购买数量"),
    "unit_price": ("unitprice", "price", "单价", "价格"),
    "unit_cost": ("unitcost", "cost", "成本"),
    "discount": ("discount", "discountamount", "折扣", "优惠金额"),
    "amount": (
        "amount",
        "sales",
        "revenue",
        "total",
        "totalamount",
        "linetotal",
        "value",
        "金额",
        "订单金额",
        "销售额",
        "实付金额",
    ),
    "channel": ("channel", "saleschannel", "orderchannel", "ordersource", "渠道", "销售渠道"),
    "sales_method": (
        "salesmethod",
        "shipmode",
        "shippingmode",
        "shipmethod",
        "shippingmethod",
        "deliverymethod",
        "deliverymode",
        "salestype",
        "purchasemethod",
        "销售方式",
        "配送方式",
    ),
    "profit": ("profit", "grossprofit", "lineprofit", "利润", "毛利"),
    "promotion_id": ("promotionid", "promoid", "promotion", "couponid", "促销id"),
    "status": ("status", "orderstatus", "订单状态", "状态"),
    "country": ("country", "国家"),
    "name": ("name", "customername", "fullname", "姓名", "客户名称"),
    "email": ("email", "emailaddress", "mail", "邮箱"),
    "phone": ("phone", "phonenumber", "mobile", "telephone", "电话", "手机", "手机号"),
    "gender": ("gender", "sex", "性别"),
    "birth_date": ("birthdate", "dateofbirth", "dob", "birthday", "出生日期", "生日"),
    "age": ("age", "年龄"),
    "income": ("income", "annualincome", "salary", "收入", "月收入", "年收入"),
    "occupation": ("occupation", "job", "profession", "职业"),
    "education": ("education", "educationlevel", "学历", "教育程度"),
    "address": ("address", "street", "地址"),
    "city": ("city", "城市"),
    "region": ("region", "state", "province", "省份", "地区", "省"),
    "signup_date": (
        "signupdate",
        "registrationdate",
        "joindate",
        "createddate",
        "customersince",
        "注册时间",
        "注册日期",
    ),
    "acquisition_channel": ("acquisitionchannel", "sourcechannel", "获客渠道"),
    "category": ("category", "productcategory", "类别", "品类", "类目"),
    "subcategory": ("subcategory", "productsubcategory", "subcat", "子类", "子品类"),
    "brand": ("brand", "品牌"),
    "event_id": ("eventid",),
    "event_ts": ("eventts", "eventtime", "eventdate", "timestamp", "datetime", "date", "时间"),
    "event_type": ("eventtype", "type", "action", "事件类型"),
    "campaign_id": ("campaignid", "campaign", "活动id"),
    "stage": ("stage", "funnelstage", "阶段"),
    "duration": ("duration", "时长"),
    "page": ("page", "url", "页面"),
    "campaign_name": ("campaignname", "name", "活动名称"),
    "start_date": ("startdate", "start", "开始日期"),
    "end_date": ("enddate", "end", "结束日期"),
    "promotion_type": ("promotiontype",),
    "target_segment": ("targetsegment",),
    "has_control_group": ("hascontrolgroup", "controlgroup"),
    "group": ("group", "arm", "variant", "treatmentgroup", "segment组"),
    "responded": ("responded", "response", "converted", "conversion"),
    "revenue": ("revenue", "spend"),
    "ticket_id": ("ticketid", "caseid", "ticket", "工单号"),
    "opened_ts": ("openedts", "opened", "createdat", "opendate", "创建时间"),
    "closed_ts": ("closedts", "closed", "closedat", "closedate", "关闭时间"),
    "priority": ("priority", "优先级"),
    "is_complaint": ("iscomplaint", "complaint", "投诉"),
    "csat": ("csat", "satisfaction", "满意度"),
    "agent_group": ("agentgroup", "assignedgroup", "assignmentgroup", "assignedteam", "team",
                    "supportteam", "supportgroup", "agentteam", "queue", "处理组", "客服组",
                    "负责组"),
    "text": ("text", "comment", "body", "message", "内容", "描述"),
    "subscription_id": ("subscriptionid", "contractid", "合同号"),
    "plan": ("plan", "tariff", "套餐"),
    "contract_type": ("contracttype", "contract", "合同类型"),
    "monthly_charge": ("monthlycharge", "monthlycharges", "monthlyfee", "月费"),
    "total_charges": ("totalcharges",),
    "payment_method": ("paymentmethod", "支付方式"),
    "churned": ("churned", "churn", "流失"),
    "response_ts": ("responsets", "responsedate", "conversiondate", "surveydate"),
    "nps": ("nps",),
}

# Ad-platform export names (Facebook/Meta, Google Ads, TikTok, Kaggle's KAG_conversion_data),
# for marketing_spend only: "source" or "results" mean other things in other entities.
_ENTITY_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "marketing_spend": {
        "date": ("day", "reportingstarts", "reportdate", "week", "weekstart", "month",
                 "period", "date", "日期"),
        "channel": ("channel", "platform", "publisherplatform", "network", "source", "medium",
                    "渠道", "媒体"),
        "campaign": ("campaign", "campaignname", "campaignid", "xyzcampaignid",
                     "fbcampaignid", "活动", "计划"),
        "ad_set": ("adset", "adsetname", "adsetid", "adgroup", "adgroupname", "adgroupid",
                   "广告组"),
        "ad": ("ad", "adname", "adid", "creative", "creativename", "广告", "创意"),
        "age": ("age", "ageband", "agerange", "agegroup", "年龄"),
        "gender": ("gender", "sex", "性别"),
        "interest": ("interest", "interests", "audience", "audiencename", "segment", "兴趣"),
        "spend": ("spend", "spent", "amountspent", "amountspentusd", "amountspenteur", "cost",
                  "adspend", "mediaspend", "花费", "消耗"),
        "impressions": ("impressions", "impr", "views", "展现", "曝光"),
        "clicks": ("clicks", "linkclicks", "clicksall", "点击"),
        "conversions": ("conversions", "totalconversion", "totalconversions", "results",
                        "purchases", "allconv", "转化"),
        "approved_conversions": ("approvedconversion", "approvedconversions",
                                 "qualifiedconversions", "qualifiedleads", "approved",
                                 "有效转化"),
        "revenue": ("revenue", "conversionvalue", "purchasesconversionvalue",
                    "purchasevalue", "convvalue", "sales", "收入"),
    },
    "marketing_outcomes": {
        "date": ("week", "weekstart", "day", "period", "month", "date", "日期", "周"),
        "revenue": ("revenue", "sales", "totalrevenue", "totalsales", "netsales", "销售额",
                    "收入"),
        "conversions": ("conversions", "orders", "transactions", "purchases", "订单数"),
        "price": ("price", "avgprice", "averageprice", "价格"),
        "promotion": ("promotion", "promo", "onpromotion", "promotions", "促销"),
        "holiday": ("holiday", "isholiday", "holidays", "节假日"),
    },
    "promotion_calendar": {
        "promotion_id": ("promotionid", "promoid", "promotion", "promotioncode", "promocode",
                         "促销id", "活动id"),
        "promotion_name": ("promotionname", "promoname", "name", "title", "促销名称",
                           "活动名称"),
        "start_date": ("startdate", "start", "from", "validfrom", "begin", "begindate",
                       "开始日期", "开始时间"),
        "end_date": ("enddate", "end", "to", "validto", "until", "结束日期", "结束时间"),
        "category": ("category", "productcategory", "类别", "品类", "类目"),
        "channel": ("channel", "saleschannel", "渠道", "销售渠道"),
        "discount": ("discount", "discountrate", "discountshare", "off", "折扣", "折扣率"),
    },
    "holidays": {  # Prophet's holidays frame (holiday, ds) and Nager.Date's export too
        "date": ("date", "ds", "day", "holidaydate", "日期"),
        "name": ("holiday", "name", "holidayname", "localname", "节日", "节假日"),
        "country": ("country", "countrycode", "国家"),
        "region": ("region", "subdivision", "state", "province", "counties", "省份", "地区"),
    },
}


def normalise_name(name: str) -> str:
    """Lower case with spaces, underscores and punctuation removed (CJK kept)."""
    return re.sub(r"[\s_\-./()#:]+", "", name.strip().lstrip("\ufeff")).lower()


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """How the source columns of one load map onto the entity's canonical columns."""

    canonical: dict[str, str]  # canonical column -> source column (or ROW_NUMBER)
    extras: tuple[str, ...]  # source columns kept as extra attributes
    how: dict[str, str]  # canonical column -> "mapping" | "recognised" | "same name"


def _extra_name(source: str) -> str:
    cleaned = re.sub(r"[^\w]+", "_", source.strip().lstrip("\ufeff")).strip("_").lower()
    return cleaned or "column"


def _listed(names: Sequence[str], limit: int = 200) -> str:
    """Column names for a message: each at most 40 characters, the list at most ``limit``
    (a header that is really a data row must not print that row)."""
    shown: list[str] = []
    used = 0
    for name in names:
        short = name if len(name) <= 40 else name[:39] + "…"
        if used + len(short) > limit:
            return ", ".join(shown) + f" … and {len(names) - len(shown):,} more"
        shown.append(short)
        used += len(short) + 2
    return ", ".join(shown)


def resolve_columns(
    entity: Entity,
    source_columns: Sequence[str],
    mapping: Mapping[str, str] | None,
    *,
    source_label: str,
) -> ColumnMap:
    """Match ``source_columns`` to ``entity``'s canonical columns.

    Raises :class:`IngestError` naming the file, the missing column and the columns found when
    a required column cannot be matched.
    """
    mapping = dict(mapping or {})
    canon_names = set(entity.column_names)
    found: dict[str, str] = {}
    how: dict[str, str] = {}
    by_norm: dict[str, str] = {}
    for name in source_columns:
        by_norm.setdefault(normalise_name(name), name)

    for src, canon in mapping.items():
        if canon not in canon_names:
            raise IngestError(
                f"{source_label}: mapping {src!r} -> {canon!r}: {canon!r} is not a column of "
                f"{entity.name}; canonical columns: {', '.join(entity.column_names)}"
            )
        if src != ROW_NUMBER and src not in source_columns:
            alt = by_norm.get(normalise_name(src))
            if alt is None:
                raise IngestError(
                    f"{source_label}: mapping names source column {src!r}, which is not in the "
                    f"file; columns found: {_listed(source_columns)}"
                )
            src = alt
        found[canon] = src
        how[canon] = "mapping"

    used = set(found.values())
    for col in entity.columns:  # exact canonical names next
        if col.name not in found and col.name in source_columns and col.name not in used:
            found[col.name] = col.name
            how[col.name] = "same name"
            used.add(col.name)
    for col in entity.columns:  # then recognised synonyms
        if col.name in found:
            continue
        specific = _ENTITY_ALIASES.get(entity.name, {})
        aliases = specific[col.name] if col.name in specific else _COMMON.get(col.name, ())
        for alias in (normalise_name(col.name), *aliases):
            match = by_norm.get(alias)
            if match is not None and match not in used:
                found[col.name] = match
                how[col.name] = "recognised"
                used.add(match)
                break

    missing = [c for c in entity.required if c not in found]
    for group in entity.required_any:
        if not any(c in found for c in group):
            missing.append(" or ".join(group))
    if missing:
        raise IngestError(
            f"{source_label}: required column(s) for {entity.name} not found: "
            f"{', '.join(missing)}. Columns found: {_listed(source_columns)}. Map them with "
            f"--map SOURCE_COLUMN={missing[0].split(' or ')[0]} or in crmine.toml under "
            f"[mappings.{entity.name}]"
            + (
                f" (for sources without an order id: --map {ROW_NUMBER}=order_id)"
                if "order_id" in missing
                else ""
            )
        )
    extras = tuple(c for c in source_columns if c not in used)
    return ColumnMap(found, extras, how)


def extra_column_names(extras: Sequence[str], taken: Sequence[str]) -> dict[str, str]:
    """Warehouse names for extra source columns: snake_case, unique, not clashing."""
    names: dict[str, str] = {}
    seen = set(taken)
    for src in extras:
        base = _extra_name(src)
        name, i = base, 2
        while name in seen:
            name, i = f"{base}_{i}", i + 1
        seen.add(name)
        names[src] = name
    return names


# Attributes of the customer or the product that a denormalised fact export (every order line
# repeating the customer's segment and city and the product's category) carries. Beyond the
# customers' and products' canonical columns: names recognised as customer attributes, and
# the prefixes that make any other column one ("Customer Tier", "Product Line").
_CUSTOMER_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "segment": ("segment", "customersegment", "customertype", "客户类型", "客户分群"),
    "state": ("state", "province", "省份", "省"),
    "postal_code": ("postalcode", "zipcode", "zip", "postcode", "邮编"),
}
_CUSTOMER_PREFIXES = ("customer", "client")
_PRODUCT_PREFIXES = ("product", "item")
# Customer columns a fact file does not describe (a "Created Date" is the order's).
_AMBIGUOUS_ON_FACTS = {"customer_id", "signup_date", "acquisition_channel"}
# Dimension columns that a source attribute may not take: their bookkeeping.
_RESERVED = {"valid_from", "valid_to", "is_current", "origin", "load_id", "source_row"}


@dataclass(frozen=True, slots=True)
class DimensionAttributes:
    """Source columns of a fact file that describe its customer or its product.

    Each maps a column of ``core.dim_customer`` / ``core.dim_product`` to the source column;
    ``canonical`` names those that are canonical columns of the dimension (the rest are its
    extra attributes).
    """

    customer: dict[str, str]
    product: dict[str, str]
    canonical: frozenset[str]


def dimension_attributes(
    entity: Entity, customers: Entity, products: Entity, extras: Sequence[str],
    canonical: Mapping[str, str],
) -> DimensionAttributes:  # fmt: skip
    """Recognise customer and product attributes among a fact file's columns.

    ``extras`` are the source columns the fact entity did not take; ``canonical`` is its
    column map (a canonical ``country`` of an order describes its customer too).
    """
    customer: dict[str, str] = {}
    product: dict[str, str] = {}
    canon: set[str] = set()
    if "customer_id" not in canonical and "product_id" not in canonical:
        return DimensionAttributes({}, {}, frozenset())
    by_norm: dict[str, str] = {}
    for name in extras:
        by_norm.setdefault(normalise_name(name), name)
    used: set[str] = set()

    def take(target: dict[str, str], dims: Entity, skip: set[str]) -> None:
        for col in dims.columns:
            if col.name in skip or col.name in target:
                continue
            plain = (normalise_name(col.name), *_COMMON.get(col.name, ()))
            # "Customer E-mail", "Product Category": the dimension's column under its prefix
            prefixes = _CUSTOMER_PREFIXES if dims.name == "customers" else _PRODUCT_PREFIXES
            aliases = (*plain, *(p + a for p in prefixes for a in plain
                                 if not a.startswith(prefixes)))  # fmt: skip
            for alias in aliases:
                if (alias == "name" and dims.name == "customers") or (
                    alias == "description" and entity.name != "orders"
                ):
                    continue
                match = by_norm.get(alias)
                if match is not None and match not in used:
                    target[col.name] = match
                    canon.add(col.name)
                    used.add(match)
                    break

    if "customer_id" in canonical:
        take(customer, customers, _AMBIGUOUS_ON_FACTS)
        if "country" in canonical and "country" not in customer:
            customer["country"] = canonical["country"]
            canon.add("country")
        for name, aliases in _CUSTOMER_ATTRIBUTES.items():
            match = next((by_norm[a] for a in aliases if a in by_norm), None)
            if match is not None and match not in used and name not in customer:
                customer[name] = match
                used.add(match)
    if "product_id" in canonical:
        take(product, products, {"product_id", "unit_price", "unit_cost"})
        if "product_name" in canonical and "product_name" not in product:
            product["product_name"] = canonical["product_name"]
            canon.add("product_name")
    for src in extras:
        if src in used:
            continue
        norm, name = normalise_name(src), _extra_name(src)
        if name in _RESERVED:
            continue
        if "customer_id" in canonical and norm.startswith(_CUSTOMER_PREFIXES):
            customer.setdefault(name, src)
            used.add(src)
        elif "product_id" in canonical and norm.startswith(_PRODUCT_PREFIXES):
            product.setdefault(name, src)
            used.add(src)
    return DimensionAttributes(customer, product, frozenset(canon))
