"""Reference DERT values computed independently of clv with mpmath (25 digits).

* Pareto/NBD: Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer
  Base Analysis", JMR 42(4), eq. 2, literally:
  DERT = a^r b^s d^(s-1) G(r+x+1) U(s, s; d(b+T)) / (G(r) (a+T)^(r+x+1) L(r, a, s, b | x, t_x, T)),
  with mpmath's hyperu for U and the Pareto/NBD likelihood L of Fader & Hardie's note 009
  (eqs. 18-20, mpmath hyp2f1).
* BG/NBD and MBG/NBD: P(alive) times the posterior mean of the discounted transactions
  lambda / (p lambda + delta), as a double integral over lambda ~ Gamma(r+x, alpha+T) and
  p ~ Beta(a, b') (b' = b+x for BG/NBD, b+x+1 for MBG/NBD) by mpmath.quad; P(alive) from
  Fader, Hardie & Lee (2008) note 021 (BG/NBD) and Batislam et al. (2007) (MBG/NBD).

Writes tests/data/dert.csv: model (0 Pareto/NBD, 1 BG/NBD, 2 MBG/NBD), delta (per week), x,
t_x, T, dert. Run: python3 crates/clv-models/tests/reference/dert.py
"""
import os

import mpmath as mp

mp.mp.dps = 25
here = os.path.dirname(os.path.abspath(__file__))

PARETO = dict(r=0.5533, alpha=10.5776, s=0.6062, beta=11.6679)
BGNBD = dict(r=0.2426, alpha=4.4136, a=0.7929, b=2.4259)
MBGNBD = dict(r=0.5248, alpha=6.1830, a=0.8914, b=1.6140)
CUSTOMERS = [(0, 0.0, 38.86), (2, 30.43, 38.86), (1, 1.71, 38.86), (7, 35.0, 36.0), (26, 30.86, 31.0)]
DELTAS = [mp.log(mp.mpf("1.15")) / (mp.mpf("365.25") / 7), mp.mpf("0.05")]


def pareto_likelihood(r, al, s, be, x, tx, T):
    n = r + s + x
    if al >= be:
        f = lambda y: mp.hyp2f1(n, s + 1, n + 1, (al - be) / (al + y)) / (al + y) ** n
    else:
        f = lambda y: mp.hyp2f1(n, r + x, n + 1, (be - al) / (be + y)) / (be + y) ** n
    a0 = f(tx) - f(T)
    return mp.gamma(r + x) * al**r * be**s / mp.gamma(r) * (1 / ((al + T) ** (r + x) * (be + T) ** s) + s / n * a0)


def pareto_dert(d, x, tx, T):
    r, al, s, be = (mp.mpf(PARETO[k]) for k in ("r", "alpha", "s", "beta"))
    L = pareto_likelihood(r, al, s, be, x, mp.mpf(tx), mp.mpf(T))
    return (al**r * be**s * d ** (s - 1) * mp.gamma(r + x + 1) * mp.hyperu(s, s, d * (be + T))
            / (mp.gamma(r) * (al + T) ** (r + x + 1) * L))


def beta_geo_dert(params, modified, d, x, tx, T):
    r, al, a, b = (mp.mpf(params[k]) for k in ("r", "alpha", "a", "b"))
    tx, T = mp.mpf(tx), mp.mpf(T)
    n, c = r + x, al + T
    bb = b + x + (1 if modified else 0)
    if modified:
        p_alive = 1 / (1 + a / (b + x) * ((al + T) / (al + tx)) ** (r + x))
    elif x == 0:
        p_alive = mp.mpf(1)
    else:
        p_alive = 1 / (1 + a / (b + x - 1) * ((al + T) / (al + tx)) ** (r + x))
    lnB = mp.log(mp.beta(a, bb))
    lnG = n * mp.log(c) - mp.loggamma(n)

    def inner(p):
        return mp.quad(lambda lam: lam / (p * lam + d) * mp.exp(lnG + (n - 1) * mp.log(lam) - c * lam), [0, n / c, mp.inf])

    outer = mp.quad(lambda p: mp.exp((a - 1) * mp.log(p) + (bb - 1) * mp.log(1 - p) - lnB) * inner(p), [0, 0.5, 1])
    return p_alive * outer


rows = []
for d in DELTAS:
    for (x, tx, T) in CUSTOMERS:
        rows.append((0, d, x, tx, T, pareto_dert(d, x, tx, T)))
        rows.append((1, d, x, tx, T, beta_geo_dert(BGNBD, False, d, x, tx, T)))
        rows.append((2, d, x, tx, T, beta_geo_dert(MBGNBD, True, d, x, tx, T)))
        print(rows[-3:])
with open(os.path.join(here, "../data/dert.csv"), "w") as f:
    f.write("model,delta,x,t_x,T,dert\n")
    for m, d, x, tx, T, v in rows:
        f.write(f"{m},{mp.nstr(d, 17)},{x},{tx},{T},{mp.nstr(v, 17)}\n")
