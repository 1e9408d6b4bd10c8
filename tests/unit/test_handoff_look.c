/* The hand-off watchdog's spacing of its looks (handoff_next_look_ns): a tick after a look that
 * found a loop in a call, so a call is taken one to two ticks after it is first seen; doubling
 * after a look that found none, up to HANDOFF_MAX_LOOK_TICKS ticks, so a call is first seen at
 * most that many ticks after it began. */
#include "check.h"
#include "handoff.h"

int main(void)
{
    const long tick = 1000000; /* 1 ms */
    CHECK_INT(handoff_next_look_ns(tick, tick, true), tick);
    CHECK_INT(handoff_next_look_ns(4 * tick, tick, true), tick); /* back to a tick at once */
    CHECK_INT(handoff_next_look_ns(tick, tick, false), 2 * tick);
    CHECK_INT(handoff_next_look_ns(2 * tick, tick, false), 4 * tick);

    /* From any start, looks that find nothing spread out to the cap and stay there. */
    long look = tick;
    for (int i = 0; i < 20; i++) {
        look = handoff_next_look_ns(look, tick, false);
        CHECK(look <= HANDOFF_MAX_LOOK_TICKS * tick);
    }
    CHECK_INT(look, HANDOFF_MAX_LOOK_TICKS * tick);

    /* A tick that is not a power of two of the cap's divisor: still capped exactly. */
    const long odd = 3000000;
    look = odd;
    for (int i = 0; i < 20; i++)
        look = handoff_next_look_ns(look, odd, false);
    CHECK_INT(look, HANDOFF_MAX_LOOK_TICKS * odd);
    return check_report("test_handoff_look");
}
