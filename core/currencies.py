"""ISO 4217 currencies: which codes are valid and how many minor units each has.

Amounts are stored as integers in minor units (cents), and codes in lowercase as Polar's
API returns them ("usd").
"""

# Active ISO 4217 codes. Most have two decimal places; the exceptions are listed below.
CURRENCY_CODES = frozenset(
    """
    aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd
    btn bwp byn bzd cad cdf chf clp cny cop crc cuc cup cve czk djf dkk dop dzd egp ern
    etb eur fjd fkp gbp gel ghs gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr iqd irr
    isk jmd jod jpy kes kgs khr kmf kpw krw kwd kyd kzt lak lbp lkr lrd lsl lyd mad mdl
    mga mkd mmk mnt mop mru mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd omr pab pen
    pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sdg sek sgd shp sle sos srd ssp
    stn svc syp szl thb tjs tmt tnd top try ttd twd tzs uah ugx usd uyu uzs ves vnd vuv
    wst xaf xcd xof xpf yer zar zmw zwg
    """.split()
)

_ZERO_DECIMAL = frozenset(
    "bif clp djf gnf isk jpy kmf krw pyg rwf ugx uyi vnd vuv xaf xof xpf".split()
)
_THREE_DECIMAL = frozenset("bhd iqd jod kwd lyd omr tnd".split())


def minor_unit_exponent(currency: str) -> int:
    code = currency.lower()
    if code in _ZERO_DECIMAL:
        return 0
    if code in _THREE_DECIMAL:
        return 3
    return 2


def format_amount(amount: int, currency: str) -> str:
    """Format minor units for people: 123456, "usd" -> "USD 1,234.56"."""
    exponent = minor_unit_exponent(currency)
    major = amount / (10**exponent)
    return f"{currency.upper()} {major:,.{exponent}f}"
