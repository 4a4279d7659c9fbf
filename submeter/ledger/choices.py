from django.db import models
from django.utils.translation import gettext_lazy as _


class AccountKind(models.TextChoices):
    """The accounts of an organisation's ledger.

    Sign convention: an account's balance is the sum of its entries, and every transaction's
    entries sum to zero. A tenant wallet's balance is what the organisation holds for the tenant
    (positive = prepaid credit). Money received through a channel appears on that channel's
    clearing account with a negative sign; revenue accounts go negative as revenue is earned.
    Reports show revenue and receipts with the sign flipped.
    """

    WALLET = "wallet", _("Tenant wallet")
    REVENUE_ELECTRICITY = "revenue_electricity", _("Electricity revenue")
    REVENUE_WATER = "revenue_water", _("Water revenue")
    REVENUE_GAS = "revenue_gas", _("Gas revenue")
    REVENUE_FEES = "revenue_fees", _("Fee revenue")
    SERVICE_FEE = "service_fee", _("Top-up service fees")
    CASH = "cash", _("Cash")
    CARD = "card", _("Card")
    TRANSFER = "transfer", _("Bank transfer")
    WECHAT = "wechat", _("WeChat Pay clearing")
    ALIPAY = "alipay", _("Alipay clearing")
    SUBSIDY = "subsidy", _("Subsidies")
    ADJUSTMENT = "adjustment", _("Adjustments")


class Channel(models.TextChoices):
    CASH = "cash", _("Cash")
    CARD = "card", _("Card")
    TRANSFER = "transfer", _("Bank transfer")
    WECHAT = "wechat", _("WeChat Pay")
    ALIPAY = "alipay", _("Alipay")


CHANNEL_ACCOUNT = {
    Channel.CASH: AccountKind.CASH,
    Channel.CARD: AccountKind.CARD,
    Channel.TRANSFER: AccountKind.TRANSFER,
    Channel.WECHAT: AccountKind.WECHAT,
    Channel.ALIPAY: AccountKind.ALIPAY,
}


class Utility(models.TextChoices):
    ELECTRICITY = "electricity", _("Electricity")
    WATER = "water", _("Water")
    GAS = "gas", _("Gas")


REVENUE_ACCOUNT = {
    Utility.ELECTRICITY: AccountKind.REVENUE_ELECTRICITY,
    Utility.WATER: AccountKind.REVENUE_WATER,
    Utility.GAS: AccountKind.REVENUE_GAS,
}


class TransactionKind(models.TextChoices):
    TOPUP = "topup", _("Top-up")
    REFUND = "refund", _("Refund")
    REVERSAL = "reversal", _("Reversal")
    ADJUSTMENT = "adjustment", _("Adjustment")
    CHARGE = "charge", _("Charge")
    SETTLEMENT = "settlement", _("Closing settlement")


class AccountState(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")
