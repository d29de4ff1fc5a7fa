/* The arena planner: random lifetimes must never overlap in memory, the verifier must catch an
 * overlap, and simple cases must reuse memory as well as by hand. */
#include "arena_plan.h"
#include "test_util.h"

static unsigned rng_state = 12345;
static unsigned next_rand(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) & 0xffffff;
}

static void random_plans(void)
{
    for (int trial = 0; trial < 200; trial++) {
        cr_buffer_life b[60];
        int n = 1 + (int)(next_rand() % 60);
        size_t sum = 0;
        for (int i = 0; i < n; i++) {
            b[i].bytes = next_rand() % 5000;
            b[i].first = (int)(next_rand() % 40);
            b[i].last = b[i].first + (int)(next_rand() % 10);
            sum += (b[i].bytes + 63) / 64 * 64 + (b[i].bytes ? 0 : 64);
        }
        size_t total;
        CHECK_OK(cr_arena_plan(b, n, &total));
        char why[256];
        CHECK(cr_arena_plan_verify(b, n, total, why, sizeof why));
        CHECK(total <= sum); /* never worse than giving every buffer its own space */
    }
}

static void chain_reuses_memory(void)
{
    /* A chain a -> b -> c -> d: each buffer lives two steps; two slots suffice. */
    cr_buffer_life b[4];
    for (int i = 0; i < 4; i++) b[i] = (cr_buffer_life){.bytes = 1000, .first = i, .last = i + 1};
    size_t total;
    CHECK_OK(cr_arena_plan(b, 4, &total));
    CHECK(total == 2 * 1024);
    CHECK(cr_arena_plan_verify(b, 4, total, NULL, 0));
}

static void verifier_catches_overlap(void)
{
    cr_buffer_life b[2] = {{.bytes = 128, .first = 0, .last = 3, .offset = 0},
                           {.bytes = 128, .first = 2, .last = 5, .offset = 64}};
    char why[256] = "";
    CHECK(!cr_arena_plan_verify(b, 2, 256, why, sizeof why));
    CHECK(strstr(why, "overlap") != NULL);
    b[1].offset = 128; /* disjoint memory: fine */
    CHECK(cr_arena_plan_verify(b, 2, 256, why, sizeof why));
    b[1].offset = 0; b[1].first = 4; /* same memory, disjoint lifetimes: fine */
    CHECK(cr_arena_plan_verify(b, 2, 256, why, sizeof why));
}

int main(void)
{
    random_plans();
    chain_reuses_memory();
    verifier_catches_overlap();
    return test_report();
}
