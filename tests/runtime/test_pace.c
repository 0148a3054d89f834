/* test_pace.c — the chooser between all threads and one per training step
 * (runtime/pace.c), fed made-up step times: it probes both modes after the
 * warm-up, runs the faster, probes again when its budget is spent (a
 * confirmed choice doubles the budget, a probe that lost much makes it
 * longer), at once when the threads' step time drifts up (not one
 * thread's), pays a step that waited on a stalled worker from what the
 * run on the threads saved or else leaves the threads for a stint, and
 * ignores steps that are not comparable; one thread has nothing to
 * choose.  The pool's serial mode runs a call as one claim on the caller. */
#define _GNU_SOURCE  /* sched_setaffinity */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "../../runtime/rt_internal.h"
#include "rt_harness.h"

/* Feeds `steps` steps that take `par` seconds on the threads and `one` on
 * one thread; returns how many of them ran on one thread. */
static int feed(RtPace *s, int steps, double par, double one)
{
    int serial = 0;
    for (int i = 0; i < steps; i++) {
        int m = rt_pace_serial(s);
        serial += m;
        rt_pace_step(s, m ? one : par, 0, 1);
    }
    return serial;
}

/* Feeds steps of 1 ms on the threads and 2 ms on one until a run on the
 * threads starts; 1 if one did within 20,000 steps. */
static int until_threads(RtPace *s)
{
    for (int i = 0; i < 20000; i++) {
        if (s->phase == RT_PACE_RUN && !s->serial)
            return 1;
        feed(s, 1, 1e-3, 2e-3);
    }
    return 0;
}

static void test_one_thread_never_probes(void)
{
    RtPace s;
    rt_pace_init(&s, 1);
    CU_ASSERT_EQUAL(feed(&s, 100, 2e-3, 1e-3), 0);
    CU_ASSERT_EQUAL(s.probes, 0);
}

/* warm-up (2 steps on one thread), then the probe: threads, one, threads,
 * one, threads, one */
static void test_probe_order(void)
{
    RtPace s;
    rt_pace_init(&s, 2);
    int want[] = {1, 1, 0, 1, 0, 1, 0, 1};
    for (int i = 0; i < 8; i++) {
        CU_ASSERT_EQUAL(rt_pace_serial(&s), want[i]);
        rt_pace_step(&s, 1e-3, 0, 1);
    }
    CU_ASSERT_EQUAL(s.probes, 1);
    CU_ASSERT_EQUAL(s.phase, RT_PACE_RUN);
    CU_ASSERT_EQUAL(s.serial, 1);  /* a tie goes to one thread */
}

/* The threads win only by more than 5% of one thread's step. */
static void test_margin(void)
{
    RtPace s;
    rt_pace_init(&s, 2);
    feed(&s, 8, 0.96e-3, 1e-3);  /* 4% saved: not worth a second CPU */
    CU_ASSERT_EQUAL(s.serial, 1);
    CU_ASSERT_DOUBLE_EQUAL(s.ref, 1e-3, 1e-12);
    rt_pace_init(&s, 2);
    feed(&s, 8, 0.94e-3, 1e-3);  /* 6% saved */
    CU_ASSERT_EQUAL(s.serial, 0);
    CU_ASSERT_DOUBLE_EQUAL(s.ref, 0.94e-3, 1e-12);
}

static void test_picks_the_faster(void)
{
    RtPace s;
    rt_pace_init(&s, 2);
    feed(&s, 8, 2e-3, 1e-3);  /* warm-up and probe: one thread is faster */
    CU_ASSERT_EQUAL(s.serial, 1);
    CU_ASSERT_DOUBLE_EQUAL(s.ref, 1e-3, 1e-12);
    CU_ASSERT_EQUAL(feed(&s, 100, 2e-3, 1e-3), 100);  /* 0.1 s of the 0.5 s budget: no probe yet */
    rt_pace_init(&s, 2);
    feed(&s, 8, 1e-3, 2e-3);
    CU_ASSERT_EQUAL(s.serial, 0);
    CU_ASSERT_EQUAL(feed(&s, 100, 1e-3, 2e-3), 0);
}

/* One noisy step per mode does not decide: the medians do. */
static void test_median_not_mean(void)
{
    RtPace s;
    rt_pace_init(&s, 2);
    double times[] = {1, 1, /* probe: */ 1e-3, 2e-3, 50e-3, 2e-3, 1e-3, 2e-3};
    for (int i = 0; i < 8; i++)
        rt_pace_step(&s, times[i], 0, 1);
    CU_ASSERT_EQUAL(s.serial, 0);
}

/* Steps shorter than SAMPLE_MIN (0.5 ms) are sampled in runs: three
 * steps of 0.17-0.24 ms on the threads a sample, three of 0.21 on one,
 * each sample their mean.  Two slow steps on the threads first (0.24 ms)
 * would have been two of the three single steps a mode and lost the
 * threads a probe they win by 19% over the other steps. */
static void test_short_steps_sampled(void)
{
    RtPace s;
    rt_pace_init(&s, 2);
    double par[] = {0.24e-3, 0.24e-3, 0.17e-3, 0.17e-3, 0.17e-3, 0.17e-3, 0.17e-3, 0.17e-3, 0.17e-3};
    int steps = 0, on_threads = 0;
    rt_pace_step(&s, 0.21e-3, 0, 1);
    rt_pace_step(&s, 0.21e-3, 0, 1);  /* warm-up */
    while (s.phase == RT_PACE_PROBE && steps < 100) {
        int one = rt_pace_serial(&s);
        rt_pace_step(&s, one ? 0.21e-3 : par[on_threads], 0, 1);
        on_threads += !one;
        steps++;
    }
    CU_ASSERT_EQUAL(steps, 18);
    CU_ASSERT_EQUAL(on_threads, 9);
    CU_ASSERT_EQUAL(s.phase, RT_PACE_RUN);
    CU_ASSERT_EQUAL(s.serial, 0);
    CU_ASSERT_DOUBLE_EQUAL(s.ref, 0.17e-3, 1e-12);  /* the samples' median: the mean of three 0.17 ms steps */
    CU_ASSERT_DOUBLE_EQUAL(s.one, 0.21e-3, 1e-12);
}

/* After the budget, a probe; the same winner doubles the budget (0.5, 1,
 * 2, .. 16 s), a different one starts it over. */
static void test_budget(void)
{
    RtPace s;
    rt_pace_init(&s, 2);
    feed(&s, 8, 1e-3, 2e-3);
    CU_ASSERT_DOUBLE_EQUAL(s.budget, 0.5, 1e-12);
    feed(&s, 490, 1e-3, 2e-3);  /* 0.49 s of the 0.5 s: still running */
    CU_ASSERT_EQUAL(s.phase, RT_PACE_RUN);
    feed(&s, 20, 1e-3, 2e-3);   /* the budget spent, a probe of 6 steps, running again */
    CU_ASSERT_EQUAL(s.probes, 2);
    CU_ASSERT_EQUAL(s.phase, RT_PACE_RUN);
    CU_ASSERT_DOUBLE_EQUAL(s.budget, 1.0, 1e-12);
    for (int i = 0; i < 10; i++)
        feed(&s, 20000, 1e-3, 2e-3);
    CU_ASSERT_DOUBLE_EQUAL(s.budget, 16.0, 1e-12);
    CU_ASSERT_EQUAL(s.switches, 0);
    /* the machine changes: now one thread wins.  A probe must come within the
     * 16 s budget (5334 steps of 3 ms) and its 6 steps; a chooser that never
     * probes again fails here instead of looping forever. */
    int before = s.probes, steps = 0;
    while (s.probes == before && steps < 5334 + 6 + 1) {
        feed(&s, 1, 3e-3, 2e-3);
        steps++;
    }
    CU_ASSERT_EQUAL(s.probes, before + 1);
    CU_ASSERT_EQUAL(s.serial, 1);
    CU_ASSERT_DOUBLE_EQUAL(s.budget, 0.5, 1e-12);
    CU_ASSERT_EQUAL(s.switches, 1);
}

/* Steps that slow down by more than 1.3x start a probe at once. */
static void test_drift(void)
{
    RtPace s;
    rt_pace_init(&s, 2);
    feed(&s, 8, 1e-3, 2e-3);
    feed(&s, 10, 1e-3, 2e-3);
    CU_ASSERT_EQUAL(s.phase, RT_PACE_RUN);
    feed(&s, 1, 5e-3, 2e-3);  /* a competitor starts: the threads' steps take 5 ms */
    CU_ASSERT_EQUAL(s.phase, RT_PACE_RUN);  /* one slow step: the median of the last 3 is still 1 ms */
    feed(&s, 1, 5e-3, 2e-3);
    CU_ASSERT_EQUAL(s.phase, RT_PACE_PROBE);
    feed(&s, 6, 5e-3, 2e-3);
    CU_ASSERT_EQUAL(s.serial, 1);
    CU_ASSERT_EQUAL(s.phase, RT_PACE_RUN);
}

/* Running on one thread, slower steps start no probe: the CPUs got busier,
 * which does not make the threads better (on a busy machine noisy steps set
 * the drift off again and again, each time for 3 steps on the threads). */
static void test_no_drift_on_one(void)
{
    RtPace s;
    rt_pace_init(&s, 2);
    feed(&s, 8, 2e-3, 1e-3);
    CU_ASSERT_EQUAL(s.serial, 1);
    CU_ASSERT_EQUAL(feed(&s, 100, 8e-3, 4e-3), 100);  /* 0.4 s of steps 4x the probe's: still running on one */
    CU_ASSERT_EQUAL(s.phase, RT_PACE_RUN);
    CU_ASSERT_EQUAL(s.probes, 1);
}

/* A probe that lost much is not repeated soon: the run is at least the
 * probe's loss (3 steps x the difference of the medians) over 3%. */
static void test_budget_of_the_loss(void)
{
    RtPace s;
    rt_pace_init(&s, 2);
    feed(&s, 8, 0.3, 0.2);  /* a GPT beside a busy process: the threads lose 0.1 s a step */
    CU_ASSERT_EQUAL(s.serial, 1);
    CU_ASSERT_DOUBLE_EQUAL(s.budget, 10.0, 1e-9);  /* 3 x 0.1 / 0.03, not 0.5 */
    CU_ASSERT_EQUAL(feed(&s, 49, 0.3, 0.2), 49);   /* 9.8 s: no probe yet */
    CU_ASSERT_EQUAL(s.probes, 1);
    feed(&s, 2 + 6, 0.3, 0.2);                     /* 10 s (give or take a rounding), then a probe */
    CU_ASSERT_EQUAL(s.probes, 2);
    CU_ASSERT_DOUBLE_EQUAL(s.budget, 16.0, 1e-9);  /* confirmed: doubled, at most 16 s */
    rt_pace_init(&s, 2);
    feed(&s, 8, 1.0, 100.0);                       /* lost 297 s: still at most 16 s */
    CU_ASSERT_DOUBLE_EQUAL(s.budget, 16.0, 1e-9);
}

/* A step on the threads that waited for stalled workers longer than the
 * rest of it took, and 1 ms, ends a probe at once (one thread wins: the
 * probe's other steps on the threads are not run) for the longer of 0.5 s
 * and a stint of the wait over 3%, doubled for a second stall in a row; a
 * shorter wait does not.  Its medians would not see it: the
 * steps after a stall are quick (the pool runs the next calls on the
 * caller alone). */
static void test_stalled_step(void)
{
    RtPace s;
    rt_pace_init(&s, 2);
    rt_pace_step(&s, 1e-3, 0, 1);
    rt_pace_step(&s, 1e-3, 0, 1);                 /* warm-up */
    CU_ASSERT_EQUAL(rt_pace_serial(&s), 0);       /* the probe's first step, on the threads */
    rt_pace_step(&s, 3e-3, 1.4e-3, 1);            /* 1.4 ms waited, 1.6 ms of work: not stalled */
    CU_ASSERT_EQUAL(s.phase, RT_PACE_PROBE);
    CU_ASSERT_EQUAL(s.stalls, 0);
    rt_pace_step(&s, 1e-3, 0, 1);                 /* one thread */
    CU_ASSERT_EQUAL(rt_pace_serial(&s), 0);
    rt_pace_step(&s, 12e-3, 9e-3, 1);             /* 9 ms waited, 3 ms of work: stalled */
    CU_ASSERT_EQUAL(s.stalls, 1);
    CU_ASSERT_EQUAL(s.stalled_runs, 1);
    CU_ASSERT_EQUAL(s.phase, RT_PACE_RUN);
    CU_ASSERT_EQUAL(s.serial, 1);
    CU_ASSERT_EQUAL(s.probes, 1);
    CU_ASSERT_DOUBLE_EQUAL(s.budget, 0.5, 1e-9);  /* 9 ms / 3% is 0.3 s: the probe's 0.5 s */
    CU_ASSERT_EQUAL(feed(&s, 490, 0.5e-3, 1e-3), 490);  /* 0.49 s of it: on one thread */
    feed(&s, 10 + 2, 0.5e-3, 1e-3);               /* then a probe; its second step on the threads */
    CU_ASSERT_EQUAL(s.phase, RT_PACE_PROBE);
    CU_ASSERT_EQUAL(rt_pace_serial(&s), 0);
    rt_pace_step(&s, 30e-3, 24e-3, 1);            /* stalled 24 ms, the second in a row: 2 x 0.8 s */
    CU_ASSERT_EQUAL(s.stalled_runs, 2);
    CU_ASSERT_DOUBLE_EQUAL(s.budget, 1.6, 1e-9);
    CU_ASSERT_EQUAL(s.probes, 2);

    /* the run's first step on the threads is no test (the workers' arenas
     * grow in it), and a wait under 1 ms is no stall however short the step */
    rt_pace_init(&s, 2);
    feed(&s, 2, 1e-3, 1e-3);                      /* warm-up */
    rt_pace_step(&s, 12e-3, 11e-3, 1);            /* the first on the threads: 11 ms waited, not a stall */
    CU_ASSERT_EQUAL(s.stalls, 0);
    CU_ASSERT_EQUAL(s.phase, RT_PACE_PROBE);
    rt_pace_step(&s, 1e-3, 0, 1);                 /* one thread */
    rt_pace_step(&s, 0.5e-3, 0.28e-3, 1);         /* 0.28 ms waited, 0.22 of work: under 1 ms, not a stall */
    CU_ASSERT_EQUAL(s.stalls, 0);
    CU_ASSERT_EQUAL(s.phase, RT_PACE_PROBE);
    rt_pace_step(&s, 1e-3, 0, 1);
    rt_pace_step(&s, 0.5e-3, 0, 1);
    rt_pace_step(&s, 1e-3, 0, 1);                 /* the probe's median: 0.5 ms on the threads, 1 on one */
    CU_ASSERT_EQUAL(s.probes, 1);
    CU_ASSERT_EQUAL(s.serial, 0);
}

/* In a run on the threads each step earns the time it saved in the probe
 * (one thread's median less theirs); a stall that the credit covers is paid
 * from it and the run goes on, one that it does not sends the run to one
 * thread for the unpaid wait over 3%, doubled for each such stall in a row
 * and then at least 0.5 s (only a run on the threads that spends its
 * budget starts over). */
static void test_stall_credit(void)
{
    RtPace s;
    rt_pace_init(&s, 2);
    feed(&s, 8, 1e-3, 2e-3);                      /* the threads win: 1 ms saved a step */
    CU_ASSERT_EQUAL(s.serial, 0);
    feed(&s, 10, 1e-3, 2e-3);                     /* 10 ms saved */
    rt_pace_step(&s, 5e-3, 4e-3, 1);              /* stalled 4 ms: paid, 6 ms left, and 1 ms earned */
    CU_ASSERT_EQUAL(s.stalls, 1);
    CU_ASSERT_EQUAL(s.serial, 0);
    CU_ASSERT_EQUAL(s.stalled_runs, 0);
    CU_ASSERT_DOUBLE_EQUAL(s.credit, 7e-3, 1e-12);
    CU_ASSERT_EQUAL(s.paid, 1);
    rt_pace_step(&s, 21e-3, 20e-3, 1);            /* stalled 20 ms: 13 ms unpaid */
    CU_ASSERT_EQUAL(s.stalls, 2);
    CU_ASSERT_EQUAL(s.paid, 1);
    CU_ASSERT_EQUAL(s.serial, 1);
    CU_ASSERT_EQUAL(s.stalled_runs, 1);
    CU_ASSERT_DOUBLE_EQUAL(s.budget, 13e-3 / 0.03, 1e-9);
    CU_ASSERT_EQUAL(feed(&s, 216, 1e-3, 2e-3), 216);  /* 0.432 s of the 0.433 s stint: on one thread */
    CU_ASSERT_EQUAL(s.probes, 1);
    feed(&s, 1 + 6, 1e-3, 2e-3);                  /* the stint spent: a probe, the threads win again */
    CU_ASSERT_EQUAL(s.probes, 2);
    CU_ASSERT_EQUAL(s.serial, 0);
    CU_ASSERT_DOUBLE_EQUAL(s.credit, 0, 1e-12);   /* a new run earns from nothing */
    rt_pace_step(&s, 4e-3, 3e-3, 1);              /* the run's first step stalls 3 ms, the second in a row: */
    CU_ASSERT_EQUAL(s.stalled_runs, 2);
    CU_ASSERT_EQUAL(s.serial, 1);
    CU_ASSERT_DOUBLE_EQUAL(s.budget, 0.5, 1e-9);  /* 2 x 0.1 s, and at least 0.5 s */
    CU_ASSERT_EQUAL(until_threads(&s), 1);
    feed(&s, 5, 1e-3, 2e-3);
    rt_pace_step(&s, 21e-3, 20e-3, 1);            /* 15 ms unpaid, the third in a row: 4 x 0.5 s */
    CU_ASSERT_EQUAL(s.stalled_runs, 3);
    CU_ASSERT_DOUBLE_EQUAL(s.budget, 4 * 15e-3 / 0.03, 1e-9);
    for (int i = 0; i < 3; i++) {                 /* a fourth, fifth, ..: 8x, 16x, .. up to 16 s */
        CU_ASSERT_EQUAL(until_threads(&s), 1);
        rt_pace_step(&s, 101e-3, 100e-3, 1);
    }
    CU_ASSERT_EQUAL(s.stalled_runs, 6);
    CU_ASSERT_DOUBLE_EQUAL(s.budget, 16.0, 1e-9);
    CU_ASSERT_EQUAL(until_threads(&s), 1);       /* 16 s on one, a probe, the threads run 0.5 s */
    CU_ASSERT_EQUAL(s.stalled_runs, 6);
    feed(&s, 600, 1e-3, 2e-3);                    /* that run spent its budget with no stall */
    CU_ASSERT_EQUAL(s.stalled_runs, 0);
}

/* The MNIST MLP on an idle machine (0.232 ms a step on the threads, 0.328
 * on one: 96 us saved a step) with a hiccup of 2 ms now and then: the
 * threads keep the run.  The old rule sent 0.5 s to one thread per
 * hiccup, 1,700-3,400 of a run's 4,690 steps (session 30). */
static void test_idle_hiccups(void)
{
    RtPace s;
    rt_pace_init(&s, 2);
    int chosen = 0;
    for (int i = 0; i < 4690; i++) {
        chosen += rt_pace_chose_one(&s);
        int hiccup = i == 1500 || i == 3000;
        if (rt_pace_serial(&s))
            rt_pace_step(&s, 0.328e-3, 0, 1);
        else
            rt_pace_step(&s, hiccup ? 2.2e-3 : 0.232e-3, hiccup ? 2e-3 : 0, 1);
    }
    CU_ASSERT_EQUAL(s.stalls, 2);
    CU_ASSERT_EQUAL(s.paid, 2);
    CU_ASSERT_EQUAL(chosen, 0);
    /* a hiccup 5 steps into a run (0.48 ms earned): 1.52 ms unpaid, a stint
     * of 50.7 ms on one thread, 155 steps of 0.328 ms (not 0.5 s, 1,525).
     * The run starts after 2 + 15 steps: the warm-up, and a probe of three
     * samples a mode of SAMPLE_MIN (0.5 ms), 3 steps on the threads, 2 on one */
    rt_pace_init(&s, 2);
    chosen = 0;
    for (int i = 0; i < 17 + 5 + 1 + 400; i++) {
        chosen += rt_pace_chose_one(&s);
        if (rt_pace_serial(&s))
            rt_pace_step(&s, 0.328e-3, 0, 1);
        else
            rt_pace_step(&s, i == 22 ? 2.2e-3 : 0.232e-3, i == 22 ? 2e-3 : 0, 1);
    }
    CU_ASSERT_EQUAL(s.stalls, 1);
    CU_ASSERT_EQUAL(chosen, 155);
}

/* What a run on the threads earns is what each step saved against the
 * probe's one-thread median: a step as slow as one thread's (the pool's
 * calls on the caller alone after a stall) earns nothing.  A paid stall's
 * step enters the drift test without its wait; a probe after a drift has
 * no credit, so a stall in it leaves the threads; and the run after a
 * stint on one thread starts the budgets over (a probe that then chooses
 * one thread gives 0.5 s, not twice the stint). */
static void test_stall_accounts(void)
{
    RtPace s;
    rt_pace_init(&s, 2);
    feed(&s, 8, 1e-3, 1.5e-3);                    /* the threads win: 0.5 ms saved a step */
    feed(&s, 10, 1e-3, 1.5e-3);
    CU_ASSERT_DOUBLE_EQUAL(s.credit, 5e-3, 1e-12);
    rt_pace_step(&s, 1.5e-3, 0, 1);               /* as slow as one thread: nothing earned */
    CU_ASSERT_DOUBLE_EQUAL(s.credit, 5e-3, 1e-12);
    rt_pace_step(&s, 1e-3, 0, 1);
    rt_pace_step(&s, 1e-3, 0, 1);
    rt_pace_step(&s, 3e-3, 2e-3, 1);              /* a paid stall: 6 - 2, and 1 ms of work earns 0.5 */
    CU_ASSERT_EQUAL(s.paid, 1);
    CU_ASSERT_DOUBLE_EQUAL(s.credit, 4.5e-3, 1e-12);
    rt_pace_step(&s, 1.5e-3, 0, 1);               /* recent 1, 1 (the stall's work), 1.5: no drift */
    CU_ASSERT_EQUAL(s.phase, RT_PACE_RUN);
    CU_ASSERT_EQUAL(s.probes, 1);

    rt_pace_step(&s, 2e-3, 0, 1);                 /* two slow steps of three: drift, a probe */
    CU_ASSERT_EQUAL(s.phase, RT_PACE_PROBE);
    CU_ASSERT_EQUAL(rt_pace_serial(&s), 0);
    rt_pace_step(&s, 3e-3, 2e-3, 1);              /* a stall in it: the run's 4 ms credit is gone */
    CU_ASSERT_EQUAL(s.paid, 1);
    CU_ASSERT_EQUAL(s.phase, RT_PACE_RUN);
    CU_ASSERT_EQUAL(s.serial, 1);
    CU_ASSERT_EQUAL(s.stalled_runs, 1);

    rt_pace_init(&s, 2);
    feed(&s, 8, 1e-3, 1.5e-3);
    feed(&s, 4, 1e-3, 1.5e-3);                    /* 2 ms saved */
    rt_pace_step(&s, 4e-3, 3.5e-3, 1);            /* 1.5 ms unpaid: 50 ms on one thread */
    CU_ASSERT_EQUAL(s.serial, 1);
    CU_ASSERT_DOUBLE_EQUAL(s.budget, 1.5e-3 / 0.03, 1e-9);
    CU_ASSERT_EQUAL(feed(&s, 62, 1e-3, 0.8e-3), 62);   /* 49.6 ms of the stint; one thread is faster now */
    CU_ASSERT_EQUAL(s.probes, 1);
    feed(&s, 1 + 6, 1e-3, 0.8e-3);                /* the stint spent; the probe chooses one thread */
    CU_ASSERT_EQUAL(s.probes, 2);
    CU_ASSERT_EQUAL(s.serial, 1);
    CU_ASSERT_DOUBLE_EQUAL(s.budget, 0.5, 1e-9);
    /* steps slower than one thread's median take credit back, below 0; a
     * stall then leaves only its own wait unpaid, not more */
    rt_pace_init(&s, 2);
    feed(&s, 8, 1e-3, 1.2e-3);                    /* the threads win: ref 1 ms, one thread 1.2 */
    for (int i = 0; i < 3; i++)
        rt_pace_step(&s, 1.25e-3, 0, 1);          /* 0.05 ms lost each, under the drift's 1.3 ms */
    CU_ASSERT_DOUBLE_EQUAL(s.credit, -0.15e-3, 1e-12);
    rt_pace_step(&s, 3.25e-3, 2e-3, 1);           /* a 2 ms stall: a stint of 2 ms / 3% */
    CU_ASSERT_EQUAL(s.serial, 1);
    CU_ASSERT_DOUBLE_EQUAL(s.budget, 2e-3 / 0.03, 1e-9);
}

/* A step that is not comparable (the short last batch) is not counted. */
static void test_incomparable(void)
{
    RtPace s;
    rt_pace_init(&s, 2);
    for (int i = 0; i < 20; i++)
        rt_pace_step(&s, 1e-3, 0, 0);
    CU_ASSERT_EQUAL(s.phase, RT_PACE_WARMUP);
    CU_ASSERT_EQUAL(s.n, 0);
}

/* -v's count: the steps on one thread because a probe timed it faster, not
 * the warm-up's two or the probe's three on one thread. */
static void test_chose_one(void)
{
    RtPace s;
    rt_pace_init(&s, 2);
    int chosen = 0, serial = 0;
    for (int i = 0; i < 8 + 10; i++) {  /* warm-up, probe (one thread is faster), 10 steps run */
        chosen += rt_pace_chose_one(&s);
        int m = rt_pace_serial(&s);
        serial += m;
        rt_pace_step(&s, m ? 1e-3 : 2e-3, 0, 1);
    }
    CU_ASSERT_EQUAL(serial, 2 + 3 + 10);
    CU_ASSERT_EQUAL(chosen, 10);
    rt_pace_init(&s, 2);
    chosen = 0;
    for (int i = 0; i < 8 + 10; i++) {  /* the threads are faster: none chosen */
        chosen += rt_pace_chose_one(&s);
        rt_pace_step(&s, rt_pace_serial(&s) ? 2e-3 : 1e-3, 0, 1);
    }
    CU_ASSERT_EQUAL(chosen, 0);
    rt_pace_init(&s, 1);  /* one thread: nothing chosen */
    CU_ASSERT_EQUAL(rt_pace_chose_one(&s), 0);
}

/* A made-up /proc/stat of two CPUs: each reading is fake_step ticks a CPU
 * later, of which `fake_idle` CPUs' worth sat idle; fake_fails: it cannot
 * be read. */
static double fake_idle, fake_step = 100;
static int    fake_fails, fake_reads;
static RtCpuTicks fake_now = {.cpus = 2};

/* Idle CPUs as given, 100 ticks a CPU a reading, readable. */
static void fake_reset(double idle)
{
    fake_idle = idle;
    fake_step = 100;
    fake_fails = 0;
}

static int fake_ticks(RtCpuTicks *t)
{
    fake_reads++;
    if (fake_fails)
        return -1;
    fake_now.total += 2 * fake_step;
    fake_now.idle += fake_step * fake_idle;
    *t = fake_now;
    return 0;
}

/* Steps of one thread (1 ms) against the threads' (2 ms) from the start
 * until the chooser is `probes` probes in (the warm-up's and one per
 * budget); how many steps it took, capped at `cap`. */
static int steps_until_probes(RtPace *s, int probes, int cap)
{
    int steps = 0;
    while (s->probes < probes && steps < cap) {
        feed(s, 1, 2e-3, 1e-3);
        steps++;
    }
    return steps;
}

/* A run on one thread through which no other CPU sat idle (another process
 * held it) ends in another such run of 0.5 s, not a probe; when a CPU is
 * idle again, the next run's end probes (issue 15: beside a busy process
 * the default's cost against --threads 1 was its probes).  Through an
 * idle machine's run on one thread, or when /proc/stat cannot be read, it
 * probes as it always did: the budget then doubles. */
static void test_no_cpu_no_probe(void)
{
    RtPace s;
    rt_pace_init(&s, 2);
    fake_reset(0.9);
    rt_pace_watch(&s, fake_ticks);  /* idle: one thread wins twice, a run of 1 s starts */
    steps_until_probes(&s, 2, 2000);
    CU_ASSERT_EQUAL_FATAL(s.serial, 1);
    CU_ASSERT_DOUBLE_EQUAL_FATAL(s.budget, 1.0, 1e-12);
    CU_ASSERT_EQUAL(s.skipped, 0);
    fake_idle = 0.05;  /* busy: a twentieth of a CPU idle */
    int reads = fake_reads;
    CU_ASSERT_EQUAL(feed(&s, 2990, 2e-3, 1e-3), 2990);  /* the 1 s run, then runs of 0.5 s */
    CU_ASSERT_EQUAL(s.probes, 2);                       /* no probe */
    CU_ASSERT_EQUAL(s.skipped, 4);                      /* at 1, 1.5, 2 and 2.5 s */
    CU_ASSERT_EQUAL(fake_reads - reads, 4);             /* one reading a run: it starts the next */
    CU_ASSERT_DOUBLE_EQUAL(s.budget, 0.5, 1e-12);
    fake_idle = 0.95;  /* the other process is gone */
    int steps = steps_until_probes(&s, 3, 2000);
    CU_ASSERT(steps <= 500 + 6);  /* the run then on ends within its 0.5 s, then a probe */
    CU_ASSERT_EQUAL(s.skipped, 4);
    fake_idle = 0;  /* busy, but the ticks cannot be read: probes */
    fake_fails = 1;
    steps_until_probes(&s, 4, 4000);
    CU_ASSERT_EQUAL(s.probes, 4);
    CU_ASSERT_EQUAL(s.skipped, 4);
    fake_fails = 0;
}

/* The warm-up is a run on one thread too: busy through it, no probe; but
 * only when it spans 10 ticks a CPU (a GPT's two steps, not an MLP's). */
static void test_warmup_no_cpu(void)
{
    for (int brief = 0; brief < 2; brief++) {
        RtPace s;
        rt_pace_init(&s, 2);
        fake_reset(0);
        fake_step = brief ? 9 : 10;
        rt_pace_watch(&s, fake_ticks);
        CU_ASSERT_EQUAL(feed(&s, 8, 2e-3, 1e-3), brief ? 5 : 8);  /* a probe has 3 steps on the threads */
        CU_ASSERT_EQUAL(s.skipped, !brief);
        CU_ASSERT_EQUAL(s.probes, brief);
    }
    fake_reset(0);
    RtPace s;
    rt_pace_init(&s, 1);  /* one thread: nothing to watch */
    rt_pace_watch(&s, fake_ticks);
    CU_ASSERT_EQUAL(s.at_known, 0);
}

/* rt_cpus_idle: CPUs' worth of idle between two readings; -1 when they do
 * not compare.  rt_cpu_ticks on this machine: every CPU of the affinity
 * mask counted, and time goes on. */
static void test_cpu_ticks(void)
{
    RtCpuTicks a = {10, 100, 2}, b = {60, 300, 2}, c = {60, 300, 1};
    CU_ASSERT_DOUBLE_EQUAL(rt_cpus_idle(&a, &b), 0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(rt_cpus_idle(&a, &c), -1, 0);
    CU_ASSERT_DOUBLE_EQUAL(rt_cpus_idle(&a, &a), -1, 0);
    RtCpuTicks t0, t1;
    if (rt_cpu_ticks(&t0) != 0)
        return;  /* no /proc/stat: the chooser probes without it */
    CU_ASSERT_EQUAL(t0.cpus, rt_usable_cpus());
    CU_ASSERT(t0.idle >= 0 && t0.idle <= t0.total);
    double start = rt_now();
    while (rt_now() - start < 0.05)
        ;
    CU_ASSERT_EQUAL_FATAL(rt_cpu_ticks(&t1), 0);
    CU_ASSERT(t1.total > t0.total);
    double idle = rt_cpus_idle(&t0, &t1);
    CU_ASSERT(idle >= 0 && idle <= t1.cpus - 0.5);  /* this thread spun through it */
    cpu_set_t all, one;  /* narrowed to one CPU (as taskset would): only it counts */
    if (sched_getaffinity(0, sizeof all, &all) != 0 || CPU_COUNT(&all) < 2)
        return;
    int first = 0;
    while (!CPU_ISSET(first, &all))
        first++;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    CU_ASSERT_EQUAL_FATAL(sched_setaffinity(0, sizeof one, &one), 0);
    int rc = rt_cpu_ticks(&t1);
    sched_setaffinity(0, sizeof all, &all);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(t1.cpus, 1);
    CU_ASSERT(t1.total < t0.total);  /* one CPU's ticks, not all of them */
}

/* Serial mode: one claim, [0, n), on the caller; off again: claims on the threads as before. */
typedef struct Claims {
    atomic_int k;
    int64_t    begin, end;
    atomic_int others;  /* claims run by a thread other than the caller */
    pthread_t  caller;
} Claims;

static void note(void *arg, int64_t begin, int64_t end)
{
    Claims *c = arg;
    if (atomic_fetch_add(&c->k, 1) == 0)
        c->begin = begin, c->end = end;
    if (!pthread_equal(pthread_self(), c->caller))
        atomic_fetch_add(&c->others, 1);
}

static void test_pool_serial(void)
{
    RtPool *p = rt_pool_create(3);
    CU_ASSERT_FATAL(p != NULL);
    rt_pool_set_serial(p, 1);
    for (int rep = 0; rep < 20; rep++) {
        Claims c = {.caller = pthread_self()};
        rt_parallel(p, 1000, note, &c);
        CU_ASSERT_EQUAL(atomic_load(&c.k), 1);
        CU_ASSERT_EQUAL(c.begin, 0);
        CU_ASSERT_EQUAL(c.end, 1000);
        CU_ASSERT_EQUAL(atomic_load(&c.others), 0);
    }
    rt_pool_set_serial(p, 0);
    Claims c = {.caller = pthread_self()};
    rt_parallel(p, 1000, note, &c);
    CU_ASSERT_EQUAL(atomic_load(&c.k), 12);  /* min(n, 4·T) claims again */
    rt_pool_set_serial(NULL, 1);             /* no pool: nothing to set */
    rt_pool_destroy(p);
}

/* rt_cpu_ticks_read on /proc/stat texts: the CPUs of the mask only (not the
 * "cpu" line of all); a line of 7 numbers (Linux 2.6.0-2.6.10) reads, one
 * without iowait does not; niced time is idle when asked; a mask CPU
 * missing (lxcfs numbers a container's CPUs {1, 2} as cpu0 and cpu1) or
 * none at all: -1. */
static int read_stat(const char *text, const unsigned char *mask, int ncpus, int nice_idle, RtCpuTicks *t)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    int rc = rt_cpu_ticks_read(f, mask, ncpus, nice_idle, t);
    fclose(f);
    return rc;
}

static void test_cpu_ticks_read(void)
{
    static const char stat[] = "cpu  900 90 90 900 9 0 0 0 0 0\n"
                               "cpu0 100 10 20 300 4 1 2 3 0 0\n"
                               "cpu1 200 20 30 400 5 0 0 0 0 0\n"
                               "cpu2 50 5 5 40 1 1 1\n"
                               "cpu3 50 5 5 40\n"
                               "intr 12345 0 0\nctxt 999\n";
    unsigned char mask[RT_CPUS_MAX] = {0};
    RtCpuTicks t;
    mask[1] = mask[2] = 1;
    CU_ASSERT_EQUAL(read_stat(stat, mask, 2, 0, &t), 0);
    CU_ASSERT_EQUAL(t.cpus, 2);
    CU_ASSERT_DOUBLE_EQUAL(t.total, 655 + 103, 0);
    CU_ASSERT_DOUBLE_EQUAL(t.idle, 405 + 41, 0);
    CU_ASSERT_EQUAL(read_stat(stat, mask, 2, 1, &t), 0);
    CU_ASSERT_DOUBLE_EQUAL(t.idle, 405 + 41 + 20 + 5, 0);
    mask[3] = 1;  /* cpu3 has no iowait: not read */
    CU_ASSERT_EQUAL(read_stat(stat, mask, 3, 0, &t), -1);
    CU_ASSERT_EQUAL(t.cpus, 2);
    memset(mask, 0, sizeof mask);
    mask[1] = mask[2] = 1;
    CU_ASSERT_EQUAL(read_stat("cpu  9 9 9 9 9\ncpu0 1 1 1 1 1\ncpu1 1 1 1 1 1\n", mask, 2, 0, &t), -1);
    CU_ASSERT_EQUAL(t.cpus, 1);  /* cpu1 only: a count of part of the mask */
    CU_ASSERT_EQUAL(read_stat("intr 1\n", mask, 2, 0, &t), -1);
}

static const RtTestCase tests[] = {
    {"one_thread_never_probes", test_one_thread_never_probes},
    {"probe_order", test_probe_order},
    {"picks_the_faster", test_picks_the_faster},
    {"margin", test_margin},
    {"median_not_mean", test_median_not_mean},
    {"short_steps_sampled", test_short_steps_sampled},
    {"budget", test_budget},
    {"drift", test_drift},
    {"no_drift_on_one", test_no_drift_on_one},
    {"budget_of_the_loss", test_budget_of_the_loss},
    {"stalled_step", test_stalled_step},
    {"stall_credit", test_stall_credit},
    {"idle_hiccups", test_idle_hiccups},
    {"stall_accounts", test_stall_accounts},
    {"incomparable", test_incomparable},
    {"chose_one", test_chose_one},
    {"no_cpu_no_probe", test_no_cpu_no_probe},
    {"warmup_no_cpu", test_warmup_no_cpu},
    {"cpu_ticks", test_cpu_ticks},
    {"cpu_ticks_read", test_cpu_ticks_read},
    {"pool_serial", test_pool_serial},
    {NULL, NULL},
};

void register_rt_pace(void) { rt_add_suite("pace", tests); }
