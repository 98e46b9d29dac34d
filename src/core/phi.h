/*
 * phi: a phi-accrual failure detector (Hayashibara et al.) in 12 bytes.
 *
 * Instead of one fixed timeout, each worker's own rhythm decides when it is
 * late: we keep an exponentially weighted mean and variance of its
 * inter-arrival times and report phi = -log10(P(an interval this long or
 * longer)) under a normal model. phi 8 means "one chance in 10^8 that a
 * healthy worker would be this late". Weighting (rather than a window of
 * samples) keeps the state to three numbers and lets the detector follow a
 * worker that changes its interval.
 *
 * Pure functions; intervals and elapsed times are in milliseconds.
 */
#ifndef VIGIL_PHI_H
#define VIGIL_PHI_H

#include <stdint.h>

#define PHI_MIN_SAMPLES 3    /* intervals seen before phi may call anyone late */
#define PHI_WEIGHT_SHIFT 4   /* EWMA weight 1/16 per new interval */
#define PHI_MIN_STD_FRAC 0.1 /* std floor as a share of the mean: a metronome is not */
#define PHI_MIN_STD_MS 50.0  /*   infinitely sure; also absolute floor */

typedef struct phi_state {
    float mean_ms;
    float var_ms2;
    uint32_t n; /* intervals observed, saturating */
} phi_state;

void phi_reset(phi_state *p);

/* Feed one inter-arrival interval (ms, >= 0). */
void phi_observe(phi_state *p, double interval_ms);

/* phi after `elapsed_ms` without a heartbeat; 0 until PHI_MIN_SAMPLES. */
double phi_value(const phi_state *p, double elapsed_ms);

/* The standard-normal quantile z at which phi equals `threshold`
 * (phi = -log10(1 - Phi(z))). Costly (bisection): compute once per
 * threshold, not per worker. NAN when threshold <= 0 (suspect disabled). */
double phi_threshold_z(double threshold);

/* Elapsed ms after which phi exceeds the threshold whose quantile is z
 * (mean + z * std), or a negative number when the detector cannot call the
 * worker late yet (too few samples, z NAN). Cheap: the sweeper calls it. */
double phi_suspect_after_ms(const phi_state *p, double z);

/* A lower bound of phi_suspect_after_ms without its square root (the std at
 * its floor, PHI_MIN_STD_*), or a negative number when there is none (z < 0,
 * too few samples). Every heartbeat first asks whether its worker was
 * already late; a beat on time, the common case, is below this bound and
 * needs no more (3 % of a UDP line's time went to the square root). */
double phi_suspect_floor_ms(const phi_state *p, double z);

#endif
