"""The product catalogue and its planted co-purchase patterns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmine.demo._spec import CATEGORIES, NO_SIGNAL

__all__ = ["make_products", "product_popularity"]

# category -> (margin, [(subcategory, price_lo, price_hi, n_products, paired_with)])
# ``paired_with`` names an antecedent subcategory: product i of this subcategory is the
# accessory of product i of that one (same brand and model), bought with it with the
# probability in AFFINITY.
CATALOGUE: dict[str, tuple[float, list[tuple[str, float, float, int, str | None]]]] = {
    "electronics": (0.18, [
        ("phone", 1500, 9000, 8, None), ("phone_case", 39, 199, 8, "phone"),
        ("screen_protector", 29, 99, 8, "phone"), ("laptop", 3500, 15000, 5, None),
        ("laptop_sleeve", 79, 299, 5, "laptop"), ("headphones", 99, 2500, 6, None),
        ("camera", 2500, 12000, 3, None), ("memory_card", 49, 399, 3, "camera"),
        ("smartwatch", 399, 3500, 4, None), ("charger", 39, 199, 4, None),
    ]),
    "fashion": (0.55, [
        ("dress", 199, 1999, 8, None), ("shoes", 199, 2999, 8, None),
        ("jacket", 299, 4999, 6, None), ("handbag", 299, 9999, 6, None),
        ("t_shirt", 39, 299, 8, None), ("socks", 9, 59, 5, None), ("scarf", 59, 1299, 4, None),
    ]),
    "beauty": (0.60, [
        ("shampoo", 29, 199, 5, None), ("conditioner", 29, 199, 5, "shampoo"),
        ("skincare", 99, 2999, 8, None), ("makeup", 49, 899, 8, None),
        ("perfume", 299, 2500, 5, None), ("face_mask", 9, 99, 5, None),
    ]),
    "home": (0.40, [
        ("coffee_machine", 499, 6999, 4, None), ("coffee_capsules", 49, 199, 4, "coffee_machine"),
        ("cookware", 99, 1999, 6, None), ("bedding", 199, 2999, 6, None),
        ("decor", 29, 999, 6, None), ("lamp", 99, 1299, 4, None), ("sofa", 2999, 15999, 3, None),
    ]),
    "grocery": (0.20, [
        ("tea", 29, 899, 6, None), ("snacks", 9, 69, 8, None), ("rice", 39, 159, 4, None),
        ("milk", 29, 99, 4, None), ("cooking_oil", 29, 129, 4, None),
        ("coffee_beans", 49, 299, 4, None),
    ]),
    "sports": (0.40, [
        ("running_shoes", 299, 1599, 6, None), ("yoga_mat", 59, 499, 4, None),
        ("yoga_block", 29, 99, 4, "yoga_mat"), ("tennis_racket", 299, 2499, 4, None),
        ("tennis_balls", 29, 99, 4, "tennis_racket"), ("bicycle", 999, 12999, 4, None),
        ("fitness_tracker", 199, 1299, 3, None),
    ]),
    "books": (0.30, [
        ("fiction", 19, 99, 8, None), ("business", 39, 159, 6, None),
        ("children", 15, 89, 8, None), ("cookbook", 39, 199, 4, None),
        ("textbook", 49, 299, 4, None),
    ]),
}  # fmt: skip

# (antecedent subcategory, consequent subcategory) -> P(consequent added | antecedent bought)
AFFINITY = {
    ("phone", "phone_case"): 0.45,
    ("phone", "screen_protector"): 0.35,
    ("laptop", "laptop_sleeve"): 0.40,
    ("camera", "memory_card"): 0.50,
    ("shampoo", "conditioner"): 0.55,
    ("coffee_machine", "coffee_capsules"): 0.60,
    ("tennis_racket", "tennis_balls"): 0.50,
    ("yoga_mat", "yoga_block"): 0.35,
}

BRANDS = {
    "electronics": ("Huawei", "Xiaomi", "Apple", "Oppo", "Vivo", "Honor", "Lenovo", "Sony"),
    "fashion": ("Li-Ning", "Uniqlo", "Zara", "Bosideng", "Peacebird", "Coach", "Anta"),
    "beauty": ("Perfect Diary", "Florasis", "L'Oreal", "Estee Lauder", "Pechoin", "Shiseido"),
    "home": ("Midea", "Haier", "Supor", "IKEA", "Muji", "Nespresso", "Gree"),
    "grocery": ("Three Squirrels", "Yili", "Mengniu", "Arawana", "Tieguanyin", "Wuchang"),
    "sports": ("Anta", "Li-Ning", "Decathlon", "Nike", "Giant", "Wilson", "Xtep"),
    "books": ("CITIC Press", "People's Literature", "Penguin", "Jieli", "Zhonghua"),
}


def _nice_price(x: np.ndarray) -> np.ndarray:
    """Shop prices such as 49, 199, 1499: round to a 'x9' ending at a sensible scale."""
    step = np.where(x < 100, 10.0, np.where(x < 1000, 10.0, 100.0))
    return np.maximum(np.round(x / step) * step - 1.0, 9.0)


def make_products(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``products`` table (~250 rows) and ``truth["product_affinities"]``."""
    rows: list[dict[str, object]] = []
    by_subcat: dict[str, list[int]] = {}
    for category, (margin, subcats) in CATALOGUE.items():
        brands = BRANDS[category]
        for subcat, lo, hi, count, paired in subcats:
            prices = _nice_price(np.exp(rng.uniform(np.log(lo), np.log(hi), count)))
            brand_idx = rng.permutation(np.resize(np.arange(len(brands)), count))
            for i in range(count):
                label = subcat.replace("_", " ")
                if paired is not None:
                    ante = rows[by_subcat[paired][i]]
                    brand = str(ante["brand"])
                    name = f"{ante['product_name']} {label.split(' ', 1)[-1].title()}"
                    if paired in ("shampoo", "coffee_machine", "tennis_racket", "yoga_mat"):
                        name = f"{brand} {label.title()} {ante['model']}"
                else:
                    brand = brands[brand_idx[i]]
                    name = f"{brand} {label.title()} {chr(65 + i)}{rng.integers(1, 10)}"
                cost_share = 1.0 - margin * rng.uniform(0.8, 1.2)
                by_subcat.setdefault(subcat, []).append(len(rows))
                rows.append({
                    "category": category, "subcategory": subcat, "brand": brand,
                    "product_name": name, "unit_price": float(prices[i]),
                    "unit_cost": round(float(prices[i]) * cost_share, 2),
                    "model": name.rsplit(" ", 1)[-1],
                })  # fmt: skip
    products = pd.DataFrame(rows).drop(columns="model")
    products.insert(0, "product_id", [f"P{i:04d}" for i in range(1, len(products) + 1)])
    assert set(products["category"]) == set(CATEGORIES)

    aff_rows = []
    for (ante_sub, cons_sub), prob in AFFINITY.items():
        for a_idx, c_idx in zip(by_subcat[ante_sub], by_subcat[cons_sub], strict=True):
            aff_rows.append({
                "antecedent": products.at[a_idx, "product_id"],
                "consequent": products.at[c_idx, "product_id"],
                "antecedent_name": products.at[a_idx, "product_name"],
                "consequent_name": products.at[c_idx, "product_name"],
                "antecedent_subcategory": ante_sub,
                "consequent_subcategory": cons_sub,
                "probability": prob,
            })  # fmt: skip
    return products, pd.DataFrame(aff_rows)


def product_popularity(rng: np.random.Generator, products: pd.DataFrame) -> pd.DataFrame:
    """The no-signal company's one product popularity: ``truth["product_popularity"]``.

    A Gamma(``NO_SIGNAL.popularity_shape``) weight per product (a few best-sellers, a long
    tail), divided by the square root of the price (cheap things sell more often).
    """
    price = products["unit_price"].to_numpy(dtype=float)
    weight = rng.gamma(NO_SIGNAL.popularity_shape, 1.0, len(products)) / np.sqrt(price)
    return pd.DataFrame({
        "product_id": products["product_id"].to_numpy(),
        "product_name": products["product_name"].to_numpy(),
        "probability": weight / weight.sum(),
    })
