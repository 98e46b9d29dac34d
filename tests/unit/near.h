/* near: assert two doubles agree within eps (both NAN counts as agreeing).
 * Include after <cmocka.h>. */
#ifndef VIGIL_TEST_NEAR_H
#define VIGIL_TEST_NEAR_H

#include <math.h>

#define assert_near(a, b, eps)                                                                     \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= (eps)) && !(isnan(a_) && isnan(b_))) {                              \
            print_error("%s = %.15g, want %.15g (±%g)\n", #a, a_, b_, (double)(eps));              \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

#endif
