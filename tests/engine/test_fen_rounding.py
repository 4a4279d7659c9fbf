"""Money: half-up to the fen, and the sub-fen carry across many postings."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from submeter.engine import FenRounder, LineRounder, round_fen


def test_round_fen_rounds_half_up():
    assert round_fen(Decimal("2105.395")) == Decimal("2105.40")
    assert round_fen(Decimal("2105.39499")) == Decimal("2105.39")


def test_round_fen_rounds_negative_halves_away_from_zero():
    assert round_fen(Decimal("-149.285")) == Decimal("-149.29")


def test_round_fen_never_returns_negative_zero():
    assert str(round_fen(Decimal("-0.001"))) == "0.00"


def test_carry_posts_whole_fen_once_remainders_add_up():
    rounder = FenRounder()
    postings = [rounder.post(Decimal("0.004")) for _ in range(3)]
    assert postings == [Decimal("0.00"), Decimal("0.01"), Decimal("0.00")]
    assert rounder.carry == Decimal("0.002")


def test_carry_resumes_from_stored_state():
    first = FenRounder()
    first.post(Decimal("0.004"))
    resumed = FenRounder(first.exact_total, first.posted_total)
    assert resumed.post(Decimal("0.001")) == Decimal("0.01")


exact_amounts = st.decimals(min_value=-50, max_value=500, places=7)


@given(st.lists(exact_amounts, min_size=1, max_size=62))
def test_daily_postings_through_the_carry_sum_to_the_monthly_total(daily_amounts):
    rounder = FenRounder()
    postings = [rounder.post(amount) for amount in daily_amounts]
    assert all(posting == round_fen(posting) for posting in postings)
    assert sum(postings) == round_fen(sum(daily_amounts))


@given(st.lists(st.tuples(st.sampled_from(["sharp", "peak", "valley"]), exact_amounts)))
def test_line_rounder_matches_a_bill_rounded_line_by_line(postings):
    rounder = LineRounder()
    posted = sum((rounder.post(code, amount) for code, amount in postings), Decimal(0))
    by_line: dict[str, Decimal] = {}
    for code, amount in postings:
        by_line[code] = by_line.get(code, Decimal(0)) + amount
    assert posted == sum((round_fen(amount) for amount in by_line.values()), Decimal(0))
    assert rounder.posted_total == posted
