"""An Australian (GST) Xero book over the generated contacts: invoices, bills, credit notes,
payments, quotes and the organisation's settings, in Xero's field names.

Money is ``Decimal`` (2 dp; quote unit amounts 4 dp), calendar dates (``Date``, ``DueDate``,
``ExpiryDate``, payment and allocation dates) are ``datetime.date``, ``UpdatedDateUTC`` an aware
``datetime``; the Xero stand-in renders them. GST is computed as Xero does
(docs/api-facts.md#xero-money-gst-and-rounding): per line, rounded to 2 dp, then summed; totals are sums
of lines; ``AmountDue = Total - AmountPaid - AmountCredited`` (0 once VOIDED or DELETED).

Each block of contacts gets its own random stream (derived from the seed, never drawn from the
contacts' stream, so adding the book changed no contact), about 2.5 sales invoices per customer,
half a quote, and bills for the suppliers; every invoice and quote status occurs in every block of
a few dozen contacts or more. Document numbers run on across blocks (``MoneyBook`` holds the
counters), so streaming the blocks gives the same book as generating it whole.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandbox.generator.base import DAY, derive, exact_labels
from sandbox.generator.dataset import Dataset

Record = dict[str, Any]

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
GST = Decimal("0.10")
BOOK_DAYS = 730  # documents are dated over the two years before ``now``
PAYMENT_TERMS_DAYS = 30

# Xero rounds half away from zero (the spec's quote example: 17.955 -> 17.96); stricter readings of
# a half cent are undocumented (docs/api-facts.md#xero-money-gst-and-rounding).
ROUNDING = ROUND_HALF_UP


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUNDING)


# ---- settings: tax rates, accounts, items, tracking, currencies, organisation -----------------------

# (TaxType, Name, ReportTaxType, rate %, status, revenue, expenses, assets/liabilities/equity)
TAX_RATES = (
    ("OUTPUT", "GST on Income", "OUTPUT", "10", "ACTIVE", True, False, False),
    ("INPUT", "GST on Expenses", "INPUT", "10", "ACTIVE", False, True, True),
    ("EXEMPTOUTPUT", "GST Free Income", "EXEMPTOUTPUT", "0", "ACTIVE", True, False, False),
    ("EXEMPTEXPENSES", "GST Free Expenses", "EXEMPTEXPENSES", "0", "ACTIVE", False, True, True),
    ("BASEXCLUDED", "BAS Excluded", "BASEXCLUDED", "0", "ACTIVE", True, True, True),
    ("GSTONIMPORTS", "GST on Imports", "GSTONIMPORTS", "0", "ACTIVE", False, False, True),
    # The advanced rates are ARCHIVED on organisations using "basic tax rates"
    # (docs/api-facts.md#xero-money-settings): read them, never hardcode them as usable.
    ("CAPEXINPUT", "GST on Capital", "CAPITALEXINPUT", "10", "ARCHIVED", False, False, True),
    ("EXEMPTCAPITAL", "GST Free Capital", "EXEMPTCAPITAL", "0", "ARCHIVED", False, False, True),
    ("INPUTTAXED", "Input Taxed", "INPUTTAXED", "0", "ARCHIVED", True, True, False),
    ("EXEMPTEXPORT", "GST Free Exports", "EXEMPTEXPORT", "0", "ARCHIVED", True, False, False),
    ("GSTONCAPIMPORTS", "GST on Capital Imports", "GSTONCAPIMPORTS", "0", "ARCHIVED", False, False, True),
)
TAX_PERCENT = {row[0]: Decimal(row[3]) for row in TAX_RATES}

# The subset of Xero's AU default chart the book uses: (Code, Name, Type, TaxType, SystemAccount).
ACCOUNTS = (
    ("090", "Business Bank Account", "BANK", "BASEXCLUDED", None),
    ("091", "Business Savings Account", "BANK", "BASEXCLUDED", None),
    ("200", "Sales", "REVENUE", "OUTPUT", None),
    ("260", "Other Revenue", "REVENUE", "OUTPUT", None),
    ("270", "Interest Income", "REVENUE", "EXEMPTOUTPUT", None),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", "INPUT", None),
    ("400", "Advertising", "EXPENSE", "INPUT", None),
    ("404", "Bank Fees", "EXPENSE", "EXEMPTEXPENSES", None),
    ("429", "General Expenses", "EXPENSE", "INPUT", None),
    ("445", "Light, Power, Heating", "EXPENSE", "INPUT", None),
    ("453", "Office Expenses", "EXPENSE", "INPUT", None),
    ("469", "Rent", "EXPENSE", "INPUT", None),
    ("489", "Telephone & Internet", "EXPENSE", "INPUT", None),
    ("610", "Accounts Receivable", "CURRENT", "BASEXCLUDED", "DEBTORS"),
    ("800", "Accounts Payable", "CURRLIAB", "BASEXCLUDED", "CREDITORS"),
    ("820", "GST", "CURRLIAB", "BASEXCLUDED", "GST"),
    ("860", "Rounding", "CURRLIAB", "BASEXCLUDED", "ROUNDING"),
    ("960", "Retained Earnings", "EQUITY", "BASEXCLUDED", "RETAINEDEARNINGS"),
)
ACCOUNT_CLASS = {
    "BANK": "ASSET",
    "CURRENT": "ASSET",
    "REVENUE": "REVENUE",
    "DIRECTCOSTS": "EXPENSE",
    "EXPENSE": "EXPENSE",
    "CURRLIAB": "LIABILITY",
    "EQUITY": "EQUITY",
}
EXPENSE_ACCOUNTS = ("310", "400", "429", "445", "453", "469", "489")

# (Code, Name, sale price, Business Unit option)
ITEMS = (
    ("CONSULT-HR", "Consulting (per hour)", "180.00", "Consulting"),
    ("WORKSHOP-D", "Workshop (full day)", "2450.00", "Consulting"),
    ("INSTALL", "Installation", "895.00", "Installations"),
    ("SITE-VISIT", "Site visit", "165.00", "Installations"),
    ("SUPPORT-M", "Support plan (monthly)", "349.00", "Support"),
    ("SUPPORT-Y", "Support plan (annual)", "3790.00", "Support"),
    ("LICENCE", "Software licence (per seat)", "39.95", "Support"),
    ("TRAVEL-KM", "Travel (per km)", "0.88", "Installations"),
)
TRACKING = {
    "Region": ("NSW", "VIC", "QLD", "WA", "SA", "TAS"),
    "Business Unit": ("Consulting", "Installations", "Support"),
}
ARCHIVED_OPTIONS = {"Region": ("NT (closed)",)}
CURRENCIES = (("AUD", "Australian Dollar"), ("USD", "United States Dollar"), ("NZD", "New Zealand Dollar"))
# Units of the foreign currency per 1 AUD (Xero's CurrencyRate on a document), around which each
# document's day rate wanders.
FX_RATES = {"USD": Decimal("0.6550"), "NZD": Decimal("1.0900")}

SALES_KINDS = {
    "draft": 0.05,
    "submitted": 0.03,
    "current": 0.10,  # AUTHORISED, not yet due
    "overdue": 0.10,  # AUTHORISED, past its due date
    "part_paid": 0.08,
    "part_paid_overdue": 0.04,
    "voided": 0.03,
    "deleted": 0.03,
    "credited_full": 0.03,  # a credit note allocated for the whole amount: PAID
    "credited_part": 0.03,  # a credit note allocated for part, the rest still due
    "paid_twice": 0.05,  # paid in two instalments
}
QUOTE_KINDS = {
    "DRAFT": 0.15,
    "SENT": 0.25,
    "ACCEPTED": 0.2,
    "DECLINED": 0.15,
    "INVOICED": 0.15,
    "DELETED": 0.05,
}
BILL_KINDS = {"current": 0.2, "overdue": 0.1, "part_paid": 0.1, "draft": 0.05, "voided": 0.05}
INVOICES_PER_CUSTOMER = 2.5
QUOTES_PER_CUSTOMER = 0.5
SUPPLIER_SHARE = 0.12
FOREIGN_SHARE = 0.04
UNALLOCATED_CREDIT_SHARE = 0.3  # of credited invoices: one more credit note left unallocated


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _stable_uuid(seed: int, *labels: object) -> str:
    return str(uuid.UUID(int=derive(seed, *labels) << 64 | derive(seed, "x", *labels), version=4))


def _at(day: date, seconds: int) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=seconds)


def tax_rates() -> list[Record]:
    out = []
    for tax_type, name, report, rate, status, revenue, expenses, other in TAX_RATES:
        percent = Decimal(rate).quantize(Decimal("0.0001"))
        out.append(
            {
                "Name": name,
                "TaxType": tax_type,
                "ReportTaxType": report,
                "CanApplyToAssets": other,
                "CanApplyToEquity": other and tax_type == "BASEXCLUDED",
                "CanApplyToExpenses": expenses,
                "CanApplyToLiabilities": other,
                "CanApplyToRevenue": revenue,
                "DisplayTaxRate": percent,
                "EffectiveRate": percent,
                "Status": status,
                "TaxComponents": [
                    {"Name": "GST", "Rate": percent, "IsCompound": False, "IsNonRecoverable": False}
                ],
            }
        )
    return out


def settings(seed: int, now: datetime) -> Dataset:
    """The organisation-level records: accounts, tax rates, items, tracking, currencies, organisation."""
    fragment = Dataset(seed=seed, size=0)
    created = now - timedelta(days=4 * 365)
    fragment.xero_tax_rates = tax_rates()
    for code, name, kind, tax_type, system in ACCOUNTS:
        account: Record = {
            "AccountID": _stable_uuid(seed, "account", code),
            "Code": code,
            "Name": name,
            "Status": "ACTIVE",
            "Type": kind,
            "TaxType": tax_type,
            "Class": ACCOUNT_CLASS[kind],
            "EnablePaymentsToAccount": False,
            "ShowInExpenseClaims": kind == "EXPENSE",
            "ReportingCode": f"{ACCOUNT_CLASS[kind][:3]}.{code}",
            "HasAttachments": False,
            "UpdatedDateUTC": created + timedelta(hours=int(code)),
            "AddToWatchlist": False,
        }
        if kind == "BANK":
            account["BankAccountNumber"] = f"062000{derive(seed, code) % 10**8:08d}"
            account["BankAccountType"] = "BANK"
            account["CurrencyCode"] = "AUD"
        if system is not None:
            account["SystemAccount"] = system
        fragment.xero_accounts.append(account)
    for index, (code, name, price, _unit) in enumerate(ITEMS):
        fragment.xero_items.append(
            {
                "ItemID": _stable_uuid(seed, "item", code),
                "Code": code,
                "Name": name,
                "Description": name,
                "IsSold": True,
                "IsPurchased": False,
                "IsTrackedAsInventory": False,
                "SalesDetails": {"UnitPrice": Decimal(price), "AccountCode": "200", "TaxType": "OUTPUT"},
                "PurchaseDetails": {},
                "UpdatedDateUTC": created + timedelta(days=30 + index, hours=3),
            }
        )
    for name, options in TRACKING.items():
        archived = ARCHIVED_OPTIONS.get(name, ())
        fragment.xero_tracking_categories.append(
            {
                "TrackingCategoryID": _stable_uuid(seed, "tracking", name),
                "Name": name,
                "Status": "ACTIVE",
                "Options": [
                    {
                        "TrackingOptionID": _stable_uuid(seed, "tracking", name, option),
                        "Name": option,
                        "Status": "ARCHIVED" if option in archived else "ACTIVE",
                    }
                    for option in (*options, *archived)
                ],
            }
        )
    fragment.xero_currencies = [{"Code": code, "Description": text} for code, text in CURRENCIES]
    fragment.xero_organisation = {
        "OrganisationID": _stable_uuid(seed, "organisation"),
        "APIKey": "",
        "Name": "Demo Company (AU)",
        "LegalName": "Demo Company (AU) Pty Ltd",
        "PaysTax": True,
        "Version": "AU",
        "OrganisationType": "COMPANY",
        "BaseCurrency": "AUD",
        "CountryCode": "AU",
        "IsDemoCompany": False,
        "OrganisationStatus": "ACTIVE",
        "TaxNumber": "53 004 085 616",
        "FinancialYearEndDay": 30,
        "FinancialYearEndMonth": 6,
        "SalesTaxBasis": "ACCRUALS",
        "SalesTaxPeriod": "QUARTERLY1",
        "DefaultSalesTax": "Tax Exclusive",
        "DefaultPurchasesTax": "Tax Inclusive",
        "CreatedDateUTC": created,
        "OrganisationEntityType": "COMPANY",
        "Timezone": "AUSEASTERNSTANDARDTIME",
        "ShortCode": f"!{derive(seed, 'short') % 36**5:05x}"[:6],
        "Class": "PREMIUM",
        "Edition": "BUSINESS",
        "LineOfBusiness": "Business services",
        "Addresses": [],
        "Phones": [],
        "ExternalLinks": [],
        "PaymentTerms": {"Sales": {"Day": PAYMENT_TERMS_DAYS, "Type": "DAYSAFTERBILLDATE"}},
    }
    return fragment


# ---- GST ---------------------------------------------------------------------------------------


def line_amounts(line: Record, line_amount_types: str) -> None:
    """Fill ``LineAmount`` and ``TaxAmount`` of a line from Quantity, UnitAmount, DiscountRate and
    TaxType, as Xero computes them (per line, 2 dp)."""
    gross = line["Quantity"] * line["UnitAmount"]
    if line.get("DiscountRate"):
        gross = gross * (HUNDRED - line["DiscountRate"]) / HUNDRED
    amount = cents(gross)
    rate = TAX_PERCENT[line["TaxType"]] / HUNDRED
    kind = line_amount_types.upper()
    if kind == "EXCLUSIVE":
        tax = cents(amount * rate)
    elif kind == "INCLUSIVE":
        tax = cents(amount * rate / (1 + rate))
    else:
        tax = Decimal("0.00")
    line["LineAmount"], line["TaxAmount"] = amount, tax


def totals(lines: list[Record], line_amount_types: str) -> dict[str, Decimal]:
    """SubTotal, TotalTax, Total and TotalDiscount of already-computed lines."""
    line_sum = sum((line["LineAmount"] for line in lines), Decimal("0.00"))
    tax = sum((line["TaxAmount"] for line in lines), Decimal("0.00"))
    discount = sum(
        (
            cents(line["Quantity"] * line["UnitAmount"]) - line["LineAmount"]
            for line in lines
            if line.get("DiscountRate")
        ),
        Decimal("0.00"),
    )
    sub_total = line_sum - tax if line_amount_types.upper() == "INCLUSIVE" else line_sum
    return {"SubTotal": sub_total, "TotalTax": tax, "Total": sub_total + tax, "TotalDiscount": discount}


# ---- documents ---------------------------------------------------------------------------------


class MoneyBook:
    """Document counters that run across blocks, and the block-by-block builder."""

    def __init__(self, seed: int, now: datetime) -> None:
        self.seed = seed
        self.now = now
        self.today = now.date()
        self.next_invoice = 1
        self.next_credit_note = 1
        self.next_quote = 1
        self.settings = settings(seed, now)
        self.items = self.settings.xero_items
        self.bank = next(a for a in self.settings.xero_accounts if a["Code"] == "090")
        self.tracking = {c["Name"]: c for c in self.settings.xero_tracking_categories}

    def add_block(self, fragment: Dataset, index: int) -> None:
        BookBlock(self, fragment, random.Random(derive(self.seed, "money", index))).build()


class BookBlock:
    def __init__(self, book: MoneyBook, fragment: Dataset, rng: random.Random) -> None:
        self.book, self.fragment, self.rng = book, fragment, rng

    # -- helpers -------------------------------------------------------------------------------------
    def day(self, earliest: int, latest: int) -> date:
        """A calendar day between ``earliest`` and ``latest`` days before today."""
        return self.book.today - timedelta(days=self.rng.randint(latest, earliest))

    def moment(self, day: date) -> datetime:
        """A time on ``day`` during an Australian business day (UTC 22:00 the evening before .. 07:00)."""
        at = _at(day, self.rng.randint(-2 * 3600, 7 * 3600))
        return min(at, self.book.now - timedelta(seconds=self.rng.randint(60, DAY)))

    def tracking(self, region: str, unit: str | None) -> list[Record]:
        out = []
        for name, option in (("Region", region), ("Business Unit", unit)):
            if option is None:
                continue
            category = self.book.tracking[name]
            chosen = next(o for o in category["Options"] if o["Name"] == option)
            out.append(
                {
                    "TrackingCategoryID": category["TrackingCategoryID"],
                    "TrackingOptionID": chosen["TrackingOptionID"],
                    "Name": name,
                    "Option": option,
                }
            )
        return out

    def sales_lines(
        self, line_amount_types: str, tax_type: str, region: str, unit_dp: int = 2
    ) -> list[Record]:
        rng = self.rng
        lines = []
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
            line: Record = {"LineItemID": _uuid(rng)}
            if rng.random() < 0.7:
                code, name, price, unit = ITEMS[rng.randrange(len(ITEMS))]
                item = next(i for i in self.book.items if i["Code"] == code)
                line["Description"] = name
                line["ItemCode"] = code
                line["Item"] = {"ItemID": item["ItemID"], "Code": code, "Name": name}
                unit_amount = Decimal(price)
                quantity = (
                    Decimal(rng.choice((1, 1, 2, 3, 5, 10, 12)))
                    if code != "CONSULT-HR"
                    else Decimal(rng.randint(2, 60)) / 2
                )
                if code == "TRAVEL-KM":
                    quantity = Decimal(rng.randint(12, 480))
            else:
                unit = rng.choice(TRACKING["Business Unit"])
                line["Description"] = rng.choice(
                    ("Project milestone", "Materials", "Call-out fee", "Design work", "Training session")
                )
                unit_amount = Decimal(rng.randint(2500, 480000)) / 100
                quantity = Decimal(1)
            if unit_dp == 4:
                unit_amount = unit_amount.quantize(Decimal("0.0001"))
            line["Quantity"] = quantity.quantize(Decimal("0.0001"))
            line["UnitAmount"] = unit_amount
            line["AccountCode"] = "200"
            line["TaxType"] = tax_type
            if rng.random() < 0.1:
                line["DiscountRate"] = Decimal(rng.choice((5, 10, 12.5, 15))).quantize(Decimal("0.01"))
            line_amounts(line, line_amount_types)
            line["Tracking"] = self.tracking(region, unit)
            lines.append(line)
        return lines

    # -- the block -----------------------------------------------------------------------------------
    def build(self) -> None:
        rng = self.rng
        contacts = [c for c in self.fragment.xero_contacts if c.get("ContactStatus") != "ARCHIVED"]
        suppliers = [c for c in contacts if c.get("IsSupplier") or rng.random() < SUPPLIER_SHARE]
        supplier_ids = {c["ContactID"] for c in suppliers}
        customers = [c for c in contacts if c["ContactID"] not in supplier_ids] or contacts
        if not customers:
            return
        n_invoices = round(INVOICES_PER_CUSTOMER * len(customers))
        for kind in exact_labels(rng, n_invoices, SALES_KINDS, "paid"):
            self.sales_invoice(rng.choice(customers), kind)
        n_quotes = max(1, round(QUOTES_PER_CUSTOMER * len(customers)))
        for status in exact_labels(rng, n_quotes, QUOTE_KINDS, "SENT"):
            self.quote(rng.choice(customers), status)
        if suppliers:
            for kind in exact_labels(rng, 2 * len(suppliers), BILL_KINDS, "paid"):
                self.bill(rng.choice(suppliers), kind)

    def region_of(self, contact: Record) -> str:
        for address in contact.get("Addresses") or ():
            region = (address.get("Region") or "").upper()
            if region in TRACKING["Region"]:
                return region
        return self.rng.choice(TRACKING["Region"])

    def currency(self) -> tuple[str, Decimal]:
        if self.rng.random() >= FOREIGN_SHARE:
            return "AUD", Decimal(1)
        code = self.rng.choice(("USD", "NZD"))
        wobble = Decimal(self.rng.randint(-300, 300)) / 10000
        return code, (FX_RATES[code] + wobble).quantize(Decimal("0.000001"))

    def sales_invoice(self, contact: Record, kind: str) -> None:
        rng, book = self.rng, self.book
        if kind in ("current", "draft", "submitted"):
            issued = self.day(25, 0)
        elif kind in ("overdue", "part_paid_overdue"):
            issued = self.day(400, 35)
        else:
            issued = self.day(BOOK_DAYS, 1)
        code, rate = self.currency()
        if code == "AUD":
            roll = rng.random()
            line_amount_types = "Exclusive" if roll < 0.75 else "Inclusive" if roll < 0.95 else "NoTax"
            tax_type = (
                "BASEXCLUDED"
                if line_amount_types == "NoTax"
                else ("EXEMPTOUTPUT" if rng.random() < 0.08 else "OUTPUT")
            )
        else:
            # Services exported: GST-free income (EXEMPTEXPORT is an archived advanced rate here).
            line_amount_types, tax_type = "Exclusive", "EXEMPTOUTPUT"
        lines = self.sales_lines(line_amount_types, tax_type, self.region_of(contact))
        sums = totals(lines, line_amount_types)
        number = f"INV-{book.next_invoice:05d}"
        book.next_invoice += 1
        created = self.moment(issued)
        invoice: Record = {
            "Type": "ACCREC",
            "InvoiceID": _uuid(rng),
            "InvoiceNumber": number,
            "Reference": rng.choice(("", "", f"PO {rng.randint(1000, 99999)}", "Monthly service", "Deposit")),
            "Contact": {"ContactID": contact["ContactID"], "Name": contact["Name"]},
            "Date": issued,
            "DueDate": issued + timedelta(days=PAYMENT_TERMS_DAYS),
            "Status": "AUTHORISED",
            "LineAmountTypes": line_amount_types,
            "LineItems": lines,
            **sums,
            "CurrencyCode": code,
            "CurrencyRate": rate,
            "AmountDue": sums["Total"],
            "AmountPaid": Decimal("0.00"),
            "AmountCredited": Decimal("0.00"),
            "IsDiscounted": False,
            "HasAttachments": False,
            "SentToContact": kind not in ("draft", "submitted"),
            "Payments": [],
            "CreditNotes": [],
            "Prepayments": [],
            "Overpayments": [],
            "UpdatedDateUTC": created,
        }
        if not invoice["Reference"]:
            del invoice["Reference"]
        total = sums["Total"]
        if kind == "draft":
            invoice["Status"] = "DRAFT"
        elif kind == "submitted":
            invoice["Status"] = "SUBMITTED"
        elif kind == "deleted":
            # A draft deleted later; like VOIDED, it owes nothing (its AmountDue is undocumented [?],
            # the stricter reading keeps it out of any receivable).
            invoice.update(Status="DELETED", AmountDue=Decimal("0.00"), SentToContact=False)
            invoice["UpdatedDateUTC"] = self.later(created, 1, 20)
        elif kind == "voided":
            invoice.update(Status="VOIDED", AmountDue=Decimal("0.00"))
            invoice["UpdatedDateUTC"] = self.later(created, 1, 60)
        elif kind in ("part_paid", "part_paid_overdue"):
            share = Decimal(rng.randint(15, 80)) / 100
            self.pay(invoice, cents(total * share), created)
        elif kind == "paid_twice":
            first = cents(total * Decimal(rng.randint(30, 70)) / 100)
            at = self.pay(invoice, first, created)
            self.pay(invoice, total - first, at)
        elif kind == "paid":
            self.pay(invoice, total, created)
        elif kind in ("credited_full", "credited_part"):
            share = Decimal(1) if kind == "credited_full" else Decimal(rng.randint(10, 50)) / 100
            self.credit(invoice, share, created)
        self.fragment.xero_invoices.append(invoice)

    def later(self, after: datetime, min_days: int, max_days: int) -> datetime:
        at = after + timedelta(
            days=self.rng.randint(min_days, max_days), seconds=self.rng.randint(0, 8 * 3600)
        )
        return min(at, self.book.now - timedelta(seconds=self.rng.randint(1, 3600)))

    def settle(self, invoice: Record, at: datetime) -> None:
        invoice["AmountDue"] = invoice["Total"] - invoice["AmountPaid"] - invoice["AmountCredited"]
        # Applying a payment or credit bumps the invoice (the spec's PAID example shares its
        # payment's UpdatedDateUTC).
        invoice["UpdatedDateUTC"] = at
        if invoice["AmountDue"] == 0:
            invoice["Status"] = "PAID"
            invoice["FullyPaidOnDate"] = at.date()

    def pay(self, invoice: Record, amount: Decimal, after: datetime) -> datetime:
        rng = self.rng
        at = self.later(after, 0, 45)
        at = max(at, after + timedelta(seconds=1))
        rate = invoice["CurrencyRate"]
        payment_type = "ACCRECPAYMENT" if invoice["Type"] == "ACCREC" else "ACCPAYPAYMENT"
        payment: Record = {
            "PaymentID": _uuid(rng),
            "Date": at.date(),
            "Amount": amount,
            "BankAmount": cents(amount / rate),
            "CurrencyRate": rate,
            "Reference": rng.choice(("", "EFT", "Direct deposit", "Card", f"Remit {rng.randint(100, 9999)}")),
            "IsReconciled": at < self.book.now - timedelta(days=7) and rng.random() < 0.9,
            "Status": "AUTHORISED",
            "PaymentType": payment_type,
            "UpdatedDateUTC": at,
            "HasAccount": True,
            "HasValidationErrors": False,
            "Account": {"AccountID": self.book.bank["AccountID"], "Code": self.book.bank["Code"]},
            "Invoice": {
                "InvoiceID": invoice["InvoiceID"],
                "InvoiceNumber": invoice["InvoiceNumber"],
                "Type": invoice["Type"],
                "Contact": dict(invoice["Contact"]),
                "CurrencyCode": invoice["CurrencyCode"],
            },
        }
        if not payment["Reference"]:
            del payment["Reference"]
        self.fragment.xero_payments.append(payment)
        if rng.random() < 0.03:
            # Someone recorded the same payment twice and deleted the copy: it stays, DELETED, and
            # counts for nothing.
            duplicate = {**payment, "PaymentID": _uuid(rng), "Status": "DELETED", "IsReconciled": False}
            duplicate["UpdatedDateUTC"] = self.later(at, 0, 3)
            duplicate["Invoice"] = dict(payment["Invoice"])
            self.fragment.xero_payments.append(duplicate)
        summary: Record = {"PaymentID": payment["PaymentID"], "Date": payment["Date"], "Amount": amount}
        if rate != 1:
            summary["CurrencyRate"] = rate
        if "Reference" in payment:
            summary["Reference"] = payment["Reference"]
        invoice["Payments"].append(summary)
        invoice["AmountPaid"] += amount
        self.settle(invoice, at)
        return at

    def credit(self, invoice: Record, share: Decimal, after: datetime) -> None:
        rng = self.rng
        at = self.later(after, 1, 40)
        kind = invoice["LineAmountTypes"]
        if share == 1:
            lines = [
                {**line, "LineItemID": _uuid(rng), "Tracking": [dict(t) for t in line["Tracking"]]}
                for line in invoice["LineItems"]
            ]
        else:
            first = invoice["LineItems"][0]
            line = {
                "LineItemID": _uuid(rng),
                "Description": f"Credit: {first['Description']}",
                "Quantity": Decimal("1.0000"),
                "UnitAmount": cents(first["LineAmount"] * share),
                "AccountCode": "200",
                "TaxType": first["TaxType"],
                "Tracking": [dict(t) for t in first["Tracking"]],
            }
            line_amounts(line, kind)
            lines = [line]
        sums = totals(lines, kind)
        note = self.credit_note(invoice["Contact"], lines, kind, sums, invoice, at)
        applied = min(sums["Total"], invoice["AmountDue"])
        allocation = {
            "AllocationID": _uuid(rng),
            "Amount": applied,
            "Date": at.date(),
            "Invoice": {"InvoiceID": invoice["InvoiceID"], "InvoiceNumber": invoice["InvoiceNumber"]},
            "IsDeleted": False,
        }
        note["Allocations"].append(allocation)
        note["AppliedAmount"] = applied
        note["RemainingCredit"] = sums["Total"] - applied
        if note["RemainingCredit"] == 0:
            note["Status"] = "PAID"
            note["FullyPaidOnDate"] = at.date()
        invoice["CreditNotes"].append(
            {
                "CreditNoteID": note["CreditNoteID"],
                "CreditNoteNumber": note["CreditNoteNumber"],
                "AppliedAmount": applied,
                "Date": at.date(),
                "Total": sums["Total"],
            }
        )
        invoice["AmountCredited"] += applied
        self.settle(invoice, at)
        if rng.random() < UNALLOCATED_CREDIT_SHARE:
            # A goodwill credit the customer has not used yet: AUTHORISED, RemainingCredit = Total.
            extra = {
                "LineItemID": _uuid(rng),
                "Description": "Goodwill credit",
                "Quantity": Decimal("1.0000"),
                "UnitAmount": Decimal(rng.randint(50, 500)).quantize(CENT),
                "AccountCode": "200",
                "TaxType": "OUTPUT",
                "Tracking": [],
            }
            line_amounts(extra, "Exclusive")
            extra_sums = totals([extra], "Exclusive")
            goodwill = self.credit_note(
                invoice["Contact"], [extra], "Exclusive", extra_sums, invoice, self.later(at, 0, 20)
            )
            goodwill["RemainingCredit"] = extra_sums["Total"]

    def credit_note(
        self,
        contact: Record,
        lines: list[Record],
        kind: str,
        sums: dict[str, Decimal],
        invoice: Record,
        at: datetime,
    ) -> Record:
        book = self.book
        note: Record = {
            "Type": "ACCRECCREDIT",
            "CreditNoteID": _uuid(self.rng),
            "CreditNoteNumber": f"CN-{book.next_credit_note:05d}",
            "Reference": f"Credit for {invoice['InvoiceNumber']}",
            "Contact": dict(contact),
            "Date": at.date(),
            "Status": "AUTHORISED",
            "LineAmountTypes": kind,
            "LineItems": lines,
            **{k: v for k, v in sums.items() if k != "TotalDiscount"},
            "CurrencyCode": invoice["CurrencyCode"],
            "CurrencyRate": invoice["CurrencyRate"],
            "RemainingCredit": sums["Total"],
            "AppliedAmount": Decimal("0.00"),
            "Allocations": [],
            "Payments": [],
            "HasAttachments": False,
            "SentToContact": True,
            "UpdatedDateUTC": at,
        }
        book.next_credit_note += 1
        self.fragment.xero_credit_notes.append(note)
        return note

    def quote(self, contact: Record, status: str) -> None:
        rng, book = self.rng, self.book
        issued = self.day(25, 0) if status in ("DRAFT", "SENT") else self.day(BOOK_DAYS, 20)
        roll = rng.random()
        kind = "EXCLUSIVE" if roll < 0.8 else "INCLUSIVE" if roll < 0.95 else "NOTAX"
        tax_type = "BASEXCLUDED" if kind == "NOTAX" else "OUTPUT"
        lines = self.sales_lines(kind, tax_type, self.region_of(contact), unit_dp=4)
        for line in lines:
            # Quotes serve no LineItemID or Item object in the spec's examples; keep the code only.
            line.pop("Item", None)
        sums = totals(lines, kind)
        created = self.moment(issued)
        updated = created if status in ("DRAFT",) else self.later(created, 0, 15)
        title = rng.choice(("Proposal", "Quotation", "Support renewal", "Installation quote", "Workshop"))
        quote: Record = {
            "QuoteID": _uuid(rng),
            "QuoteNumber": f"QU-{book.next_quote:05d}",
            "Reference": rng.choice(
                ("Website enquiry", "Referral", "Repeat customer", f"RFQ {rng.randint(100, 999)}")
            ),
            "Terms": "Valid for 30 days. Prices in AUD unless stated.",
            "Contact": {"ContactID": contact["ContactID"], "Name": contact["Name"]},
            "LineItems": lines,
            "Date": issued,
            "ExpiryDate": issued + timedelta(days=30),
            "Status": status,
            "CurrencyCode": "AUD",
            "CurrencyRate": Decimal(1),
            **sums,
            "Title": title,
            "Summary": f"{title} for {contact['Name']}"[:3000],
            "LineAmountTypes": kind,
            "UpdatedDateUTC": updated,
        }
        book.next_quote += 1
        self.fragment.xero_quotes.append(quote)

    def bill(self, contact: Record, kind: str) -> None:
        rng = self.rng
        issued = (
            self.day(25, 0)
            if kind in ("current", "draft")
            else self.day(300, 35)
            if kind == "overdue"
            else self.day(BOOK_DAYS, 1)
        )
        lines = []
        for _ in range(rng.choice((1, 1, 2, 3))):
            line: Record = {
                "LineItemID": _uuid(rng),
                "Description": rng.choice(
                    ("Office supplies", "Advertising", "Electricity", "Internet", "Rent", "Parts")
                ),
                "Quantity": Decimal("1.0000"),
                "UnitAmount": Decimal(rng.randint(1500, 350000)) / 100,
                "AccountCode": rng.choice(EXPENSE_ACCOUNTS),
                "TaxType": "INPUT" if rng.random() < 0.9 else "EXEMPTEXPENSES",
                "Tracking": [],
            }
            line_amounts(line, "Inclusive")
            lines.append(line)
        sums = totals(lines, "Inclusive")
        created = self.moment(issued)
        bill: Record = {
            "Type": "ACCPAY",
            "InvoiceID": _uuid(rng),
            # Bill numbers are the supplier's and need not be unique.
            "InvoiceNumber": f"{rng.choice(('SI', 'TAX-INV', ''))}{rng.randint(1000, 99999)}",
            "Contact": {"ContactID": contact["ContactID"], "Name": contact["Name"]},
            "Date": issued,
            "DueDate": issued + timedelta(days=14),
            "Status": "AUTHORISED",
            "LineAmountTypes": "Inclusive",
            "LineItems": lines,
            **sums,
            "CurrencyCode": "AUD",
            "CurrencyRate": Decimal(1),
            "AmountDue": sums["Total"],
            "AmountPaid": Decimal("0.00"),
            "AmountCredited": Decimal("0.00"),
            "IsDiscounted": False,
            "HasAttachments": rng.random() < 0.6,
            "SentToContact": False,
            "Payments": [],
            "CreditNotes": [],
            "Prepayments": [],
            "Overpayments": [],
            "UpdatedDateUTC": created,
        }
        if kind == "draft":
            bill["Status"] = "DRAFT"
        elif kind == "voided":
            bill.update(Status="VOIDED", AmountDue=Decimal("0.00"))
            bill["UpdatedDateUTC"] = self.later(created, 1, 30)
        elif kind == "part_paid":
            self.pay(bill, cents(sums["Total"] / 2), created)
        elif kind == "paid":
            self.pay(bill, sums["Total"], created)
        self.fragment.xero_invoices.append(bill)
