/* pace.c — whether each training step runs on all of the pool's threads or
 * on the caller alone, chosen by timing steps both ways (see rt_internal.h).
 *
 * Why measure instead of deciding once: a second thread pays off for a
 * step with large kernels on an idle machine and costs time when the step
 * is made of small kernels (each rt_parallel has a fixed cost) or when
 * another process holds the CPUs (a descheduled worker stalls every call
 * it took a claim of).  Which of these holds changes with the model, the
 * batch and whatever else the machine runs, and only the step time says
 * which wins.  The mode changes no bit: every output element is computed
 * by one item in one order whoever runs it (pool.c), so a run may switch
 * modes at any step.
 *
 * The schedule:
 *   warm-up   the first WARMUP steps run on one thread, untimed (first
 *             touches of memory); on one because a step on the threads
 *             beside a busy process can take several times one thread's
 *             (a worker descheduled holding a claim), and a short run pays
 *             for every such step (the workers' scratch arenas grow in the
 *             probe's first step on the threads, which the median and the
 *             stall test leave out);
 *   probe     2·PROBE samples alternate threads, one, threads, one, ...,
 *             each a step, or as many steps in a row as take SAMPLE_MIN
 *             (their mean); the threads win when their median is MARGIN
 *             shorter than one thread's, else one thread does (a tie, or a
 *             gain within MARGIN, goes to one thread);
 *   run       the winner runs for `budget` seconds and at least RUN_MIN
 *             steps; then a probe again.  A probe that confirms the last
 *             choice doubles the budget (up to BUDGET_MAX), so on a steady
 *             machine probing costs less and less; a different choice
 *             starts over at BUDGET_MIN.  The budget is also at least the
 *             time the probe lost (the loser's steps in it, each slower by
 *             the difference of the medians) over PROBE_SHARE: a probe whose
 *             loser was much slower is not repeated soon;
 *   drift     while running on the threads, when the median of the last
 *             PROBE steps is DRIFT times the probe's median, the machine
 *             changed (a competing process started): probe now, budget
 *             BUDGET_MIN.  Not while running on one thread: its steps
 *             slowing down means the CPUs got busier, which makes the
 *             threads no better, and a busy machine's step times may
 *             spread enough to set it off again and again, each time for
 *             PROBE steps on the threads.
 *   stalls    a step on the threads whose caller waited for workers that
 *             had lost their CPU holding a claim (pool.c's stalls) for
 *             longer than STALL_SHARE times the rest of the step, and
 *             STALL_MIN.  The medians do not see these steps: after a stall
 *             the pool runs the next calls on the caller alone (SOLO_CALLS),
 *             so the steps after it are as fast as one thread's.  Beside
 *             busy processes (the MNIST MLP, a 0.17 ms step, at a load
 *             average of 7-8) probes took the threads' median from two
 *             quick steps while the third had lost 5-15 ms (2-6% of an
 *             epoch), and a run on the threads kept its median while its
 *             mean was 6 times it (bench/README, session 28).  So a stall
 *             is paid for from the run's credit, the time its steps on the
 *             threads saved: each earns the probe's one-thread median less
 *             its own time (without a paid stall's wait, which is charged
 *             apart), so a step as slow as one thread's, like those the
 *             pool runs on the caller alone after a stall, earns nothing,
 *             and a slower one takes back.  An idle machine's hiccup
 *             (1.2-2.3 ms, once or twice in the MLP's run, session 30)
 *             after a stretch of steps that saved more is paid and the run
 *             goes on on the threads; its step enters the drift test
 *             without the wait (the solo calls after it may still set the
 *             test off: a probe, PROBE steps on one thread).  The credit is
 *             the run's own, 0 at its start (a probe has none).  A stall
 *             that the credit does not cover sends the run to one thread
 *             for a stint of its unpaid wait over PROBE_SHARE (the idle
 *             hiccup's: some tens of ms, where BUDGET_MIN, about 1,700 of
 *             the MLP's steps, was once spent), doubled for each stretch on the
 *             threads in a row that such a stall ended, and then at least
 *             BUDGET_MIN (a busy machine's: the second 2x and 0.5 s at
 *             least, the third 4x, ..., up to BUDGET_MAX); a run on the
 *             threads that spends its budget starts the count over, and
 *             nothing else does: the first unpaid stall after a busy spell
 *             still gets that spell's long stint.  A stall in a probe makes
 *             one thread its winner at once (its other steps on the
 *             threads are not run), for the longer of the stint and the
 *             budget a probe that chose one thread would give (BUDGET_MIN,
 *             or twice the last run's if that was on one thread too).
 *   no CPU    a run on one thread that ends with less than FREE_MIN of a
 *             CPU's time idle through it, on the CPUs this process may use
 *             (idle.c), runs on one thread again for BUDGET_MIN without a
 *             probe: another process holds the other CPUs, and a probe
 *             would only give it PROBE steps on the threads to lose, each
 *             at the risk of a stall (beside `yes` on the 2-CPU Zen 4 a
 *             step on one thread took as long as on an idle machine, the
 *             MLP's 0.32-0.35 ms, so the steps the default ran otherwise
 *             were its only difference from --threads 1).  The
 *             test costs one read of /proc/stat per run on one thread, so
 *             the next comes after BUDGET_MIN: when the other process goes,
 *             the threads get a probe within half a second.  The warm-up
 *             is such a run too when it lasts TICKS_MIN (a GPT's two steps:
 *             a short run paid most for its first probe).  An idle
 *             machine whose threads lost their probe (a model of small
 *             kernels) has the other CPUs idle, and probes as before.
 * A probe costs PROBE steps in the slower mode: at most a few percent of
 * the run's time once the budget has grown.
 */
#include <stdbool.h>
#include <string.h>

#include "rt_internal.h"

enum { WARMUP = 2, RUN_MIN = 16 };
_Static_assert(RT_PACE_PROBE_STEPS == 3, "median3 takes the median of a probe's steps of one mode");
enum { PROBE = RT_PACE_PROBE_STEPS };
#define BUDGET_MIN 0.5 /* seconds */
#define BUDGET_MAX 16.0
#define DRIFT 1.3
/* The share of the next run's time that the probe before it may lose. */
#define PROBE_SHARE 0.03
/* Seconds a probe's sample takes at least: steps shorter than this are
 * timed SAMPLE_MIN's worth in a row and their mean is the sample.  One
 * step of the MNIST MLP (0.17-0.21 ms on a Zen 5 VM) spread by 15% and
 * more from the next, more than the 16% the threads saved, and the
 * medians of three chose one thread in 4 of 8 runs (session 39). */
#define SAMPLE_MIN 0.5e-3
/* What the threads must save of a step to win a probe.  A second CPU that
 * saves less is not worth holding (it could serve other work), and within
 * it three samples a mode do not tell the modes apart: the MNIST MLP, whose
 * step two threads do not make faster (t1/t2 0.90-1.01 on an idle
 * machine, session 24), won its probes on the threads by noise about half
 * the time, and its default ran 3-7% slower than --threads 1. */
#define MARGIN 0.05
/* How long, against the rest of a step on the threads, its waits for
 * stalled workers may be before the step counts as stalled (and at least
 * STALL_MIN).  On a busy
 * machine a stall is a time slice or more of another process, several
 * times a small step (the MLP's 0.17 ms: 5-15 ms).  pool.c's test of a
 * stall (a wait longer than the caller's own claims and 200 us) can also
 * pass on an idle machine, by a little, in a call of a few large claims
 * (three of 2 ms: the caller's one claim done, the worker's second in
 * flight): one such wait is a fraction of the step, not all the rest of
 * it.  A large step that stalls for less than itself is left to the
 * medians and the drift. */
#define STALL_SHARE 1.0
/* And at least this long, seconds: a stall beside a busy process is a time
 * slice or more of another process (the MLP's 5-15 ms, session 28); on an
 * idle VM a worker that lost its CPU for a moment made the caller wait 230-
 * 280 us in a 0.5 ms step of the MLP now and then (a Zen 4 VM, session
 * 29), and each sent BUDGET_MIN (0.5 s) to one thread, 1.5x slower there. */
#define STALL_MIN 1e-3
/* CPUs' worth of idle time through a run on one thread below which no
 * thread could have had a CPU of its own: the other CPUs were busy at least
 * half of the time.  On the 2-CPU Zen 4 VM (session 32) the whole machine
 * read 1.99 CPUs idle over a second with nothing running and 1.00 beside
 * `yes`: with the trainer on one thread, about 1 and 0. */
#define FREE_MIN 0.5
/* Clock ticks a CPU (USER_HZ, 100 a second) that a reading must span to
 * tell: the warm-up's two steps of the GPT (0.24 s) do, the MLP's (1 ms)
 * do not, and it probes then as it would without /proc/stat. */
#define TICKS_MIN 10

static double median3(const double *x)
{
    double a = x[0], b = x[1], c = x[2];
    if (a > b) { double t = a; a = b; b = t; }
    if (b > c) { double t = b; b = c; c = t; }
    return a > b ? a : b;
}

void rt_pace_init(RtPace *s, int threads)
{
    memset(s, 0, sizeof *s);
    s->on = threads > 1;
    s->budget = BUDGET_MIN;
}

void rt_pace_watch(RtPace *s, int (*ticks)(RtCpuTicks *t))
{
    s->ticks = ticks;
    s->at_known = s->on && ticks && ticks(&s->at) == 0;  /* the warm-up runs on one thread */
}

int rt_pace_serial(const RtPace *s)
{
    if (!s->on)
        return 0;
    if (s->phase == RT_PACE_PROBE)
        return s->n % 2;  /* threads, one, threads, one, ... */
    if (s->phase == RT_PACE_RUN)
        return s->serial;
    return 1;  /* warm-up */
}

static void start_probe(RtPace *s)
{
    s->phase = RT_PACE_PROBE;
    s->n = 0;
    s->sample = 0;
    s->sample_n = 0;
    s->probed[0] = s->probed[1] = 0;
    s->credit = 0;  /* the run's own: a probe stalls unpaid */
}

/* A run in mode `serial` starts; its budget is the caller's to set. */
static void start_run(RtPace *s, int serial)
{
    s->phase = RT_PACE_RUN;
    s->serial = serial;
    s->n = 0;
    s->elapsed = 0;  /* the credit is 0 since the probe began (start_probe) */
    s->at_known = serial && s->ticks && s->ticks(&s->at) == 0;
}

/* Whether less than FREE_MIN of a CPU sat idle since this run on one thread
 * (or the warm-up) began, over at least TICKS_MIN a CPU; false when that is
 * not known.  *now: the reading, for the next run to start from. */
static bool no_cpu_free(RtPace *s, RtCpuTicks *now)
{
    if (!s->at_known || s->ticks(now) != 0 || now->total - s->at.total < TICKS_MIN * now->cpus)
        return false;
    double idle = rt_cpus_idle(&s->at, now);
    return idle >= 0 && idle < FREE_MIN;
}

/* One thread runs again for BUDGET_MIN from the reading `now`: no CPU sat idle. */
static void skip_probe(RtPace *s, const RtCpuTicks *now)
{
    s->skipped++;
    s->phase = RT_PACE_RUN;
    s->serial = 1;
    s->n = 0;
    s->elapsed = 0;
    s->at = *now;  /* the reading no_cpu_free just took: no second one */
    s->at_known = 1;
    s->budget = BUDGET_MIN;
}


/* The probe is over: `serial` won, by the medians `par` on the threads and
 * `one` on one thread (both 0 when a stall decided it); run the winner.
 * The budget doubles when the last probe chose the same and its run kept
 * it (not after a stall sent that run to one thread: a stint is no
 * probe's budget, to double or to go back from). */
static void run_winner(RtPace *s, int serial, double par, double one)
{
    double lost = s->probed[!serial] * (par > one ? par - one : one - par);
    bool same = s->probes > 0 && serial == s->last_serial && serial == s->serial;
    s->budget = same ? (s->budget * 2 < BUDGET_MAX ? s->budget * 2 : BUDGET_MAX) : BUDGET_MIN;
    if (s->budget < lost / PROBE_SHARE)
        s->budget = lost / PROBE_SHARE < BUDGET_MAX ? lost / PROBE_SHARE : BUDGET_MAX;
    s->ref = serial ? one : par;
    s->one = one;
    s->probes++;
    s->switches += s->probes > 1 && s->last_serial != serial;
    s->last_serial = serial;
    start_run(s, serial);
}

/* The stint on one thread after a stall of `unpaid` seconds that the credit
 * did not cover: unpaid / PROBE_SHARE, doubled per earlier such stall in a
 * row, and then at least BUDGET_MIN (repeated stalls: a busy machine). */
static double stall_stint(const RtPace *s, double unpaid)
{
    double stint = unpaid / PROBE_SHARE;
    for (int i = 0; i < s->stalled_runs && stint < BUDGET_MAX; i++)
        stint *= 2;
    if (s->stalled_runs > 0 && stint < BUDGET_MIN)
        stint = BUDGET_MIN;
    return stint < BUDGET_MAX ? stint : BUDGET_MAX;
}

/* Pays a stall of `stalled` seconds from the run's credit when it covers
 * it all (the run goes on on the threads) and returns 0; else pays nothing
 * and returns what the credit leaves unpaid (all of it in a probe, which
 * has no credit). */
static double pay_stall(RtPace *s, double stalled)
{
    double credit = s->credit > 0 ? s->credit : 0;
    if (credit < stalled)
        return stalled - credit;
    s->credit -= stalled;
    s->paid++;
    return 0;
}

/* A stall left `unpaid` seconds: one thread for a stint (see the header).
 * In a probe one thread wins it, for at least the budget a probe that chose
 * it would have given: nothing the threads did so far paid. */
static void leave_threads(RtPace *s, double unpaid)
{
    double stint = stall_stint(s, unpaid), least = 0;
    if (s->phase == RT_PACE_PROBE) {
        run_winner(s, 1, 0, 0);  /* one thread: no drift test, no ref */
        least = s->budget;
    } else {
        start_run(s, 1);
    }
    s->stalled_runs++;
    s->budget = stint > least ? stint : least;
}

void rt_pace_step(RtPace *s, double seconds, double stalled, int comparable)
{
    if (!s->on || !comparable)
        return;
    RtCpuTicks now;  /* no_cpu_free's reading, when it takes one */
    /* The run's first step on the threads is no test of stalls: the
     * workers' scratch arenas grow in it and they touch their memory for
     * the first time (an idle Zen 4 VM's MLP waited 280 us on them in a
     * 0.6 ms step, which then ended its probes, session 29).  The probe's
     * median leaves that step out. */
    bool threads = !rt_pace_serial(s), first = threads && !s->threaded;
    s->threaded |= threads;
    double work = seconds;  /* the step's time but for a paid stall's wait */
    if (threads && !first && stalled > STALL_MIN && stalled > STALL_SHARE * (seconds - stalled)) {
        s->stalls++;
        double unpaid = pay_stall(s, stalled);
        if (unpaid > 0) {
            leave_threads(s, unpaid);
            return;
        }
        work -= stalled;
    }
    switch (s->phase) {
    case RT_PACE_WARMUP:
        if (++s->n < WARMUP)
            return;
        if (no_cpu_free(s, &now))
            skip_probe(s, &now);
        else
            start_probe(s);
        return;
    case RT_PACE_PROBE:
        s->probed[s->n % 2]++;
        s->sample += seconds;
        s->sample_n++;
        if (s->sample < SAMPLE_MIN)
            return;  /* the same mode again (n tells it) */
        s->probe[s->n % 2][s->n / 2] = s->sample / s->sample_n;
        s->sample = 0;
        s->sample_n = 0;
        if (++s->n < 2 * PROBE)
            return;
        double par = median3(s->probe[0]), one = median3(s->probe[1]);
        run_winner(s, !(par < (1 - MARGIN) * one), par, one);
        return;
    case RT_PACE_RUN:
        s->recent[s->n % PROBE] = work;
        s->n++;
        s->elapsed += seconds;
        s->credit += s->serial ? 0 : s->one - work;
        if (!s->serial && s->n >= PROBE && median3(s->recent) > DRIFT * s->ref) {
            s->budget = BUDGET_MIN / 2;  /* doubled back to BUDGET_MIN if the probe agrees */
            start_probe(s);
            return;
        }
        if (s->n >= RUN_MIN && s->elapsed >= s->budget) {
            if (s->serial && no_cpu_free(s, &now)) {  /* a probe could only lose */
                skip_probe(s, &now);
                return;
            }
            s->stalled_runs = s->serial ? s->stalled_runs : 0;  /* a stretch on the threads ended clean */
            start_probe(s);
        }
        return;
    }
}

int rt_pace_chose_one(const RtPace *s)
{
    return s->on && s->phase == RT_PACE_RUN && s->serial;
}
