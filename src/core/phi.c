/*
 * phi: phi-accrual detector state and its two questions, "how late is this
 * worker?" (phi_value, for display) and "from when on is it suspect?"
 * (phi_suspect_after_ms, for the sweeper). The second is asked far more
 * often, so the costly inverse of the normal tail is done once per threshold
 * (phi_threshold_z) and each worker then needs one multiply-add.
 */
#include "core/phi.h"

#include <math.h>

/* phi is capped here: past it the double tail underflows and "certainly
 * dead" needs no more digits. */
#define PHI_MAX 300.0

void phi_reset(phi_state *p)
{
    p->mean_ms = 0.0f;
    p->var_ms2 = 0.0f;
    p->n = 0;
}

void phi_observe(phi_state *p, double interval_ms)
{
    if (!(interval_ms >= 0.0)) return; /* NaN or a clock that went backwards */
    if (p->n < UINT32_MAX) p->n++;
    /* Plain average while few samples exist (so the first ones are not
     * drowned by the zero start), then a fixed EWMA weight. */
    double w = 1.0 / (double)p->n;
    double wmin = 1.0 / (double)(1u << PHI_WEIGHT_SHIFT);
    if (w < wmin) w = wmin;
    double mean = p->mean_ms;
    double d = interval_ms - mean;
    double nmean = mean + w * d;
    double var = (1.0 - w) * ((double)p->var_ms2 + w * d * d);
    p->mean_ms = (float)nmean;
    p->var_ms2 = (float)var;
}

static double min_std(const phi_state *p)
{
    double fl = (double)p->mean_ms * PHI_MIN_STD_FRAC;
    return fl < PHI_MIN_STD_MS ? PHI_MIN_STD_MS : fl;
}

static double std_floor(const phi_state *p)
{
    double sd = sqrt((double)p->var_ms2), fl = min_std(p);
    return sd > fl ? sd : fl;
}

/* -log10 of the upper normal tail at z. */
static double tail_phi(double z)
{
    double q = 0.5 * erfc(z / sqrt(2.0));
    if (q <= 0.0) return PHI_MAX;
    double v = -log10(q);
    return v > PHI_MAX ? PHI_MAX : v;
}

double phi_value(const phi_state *p, double elapsed_ms)
{
    if (p->n < PHI_MIN_SAMPLES || !(elapsed_ms >= 0.0)) return 0.0;
    return tail_phi((elapsed_ms - (double)p->mean_ms) / std_floor(p));
}

double phi_threshold_z(double threshold)
{
    if (!(threshold > 0.0)) return NAN;
    /* tail_phi is increasing in z; bisect. 200 halvings of [-40, 40] are far
     * beyond double precision, and this runs once per configuration. */
    double lo = -40.0, hi = 40.0;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (tail_phi(mid) < threshold)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

double phi_suspect_after_ms(const phi_state *p, double z)
{
    if (p->n < PHI_MIN_SAMPLES || isnan(z)) return -1.0;
    double t = (double)p->mean_ms + z * std_floor(p);
    return t > 0.0 ? t : 0.0;
}

double phi_suspect_floor_ms(const phi_state *p, double z)
{
    if (p->n < PHI_MIN_SAMPLES || !(z >= 0.0)) return -1.0;
    double t = (double)p->mean_ms + z * min_std(p);
    return t > 0.0 ? t : 0.0;
}
