/* The K&R-defined file of xtu-knr.c.  knr_store has a prototype here;
** knr_mix and knr_pick do not: callers see only `int f();`, pass their
** arguments promoted (float as double, char and short as int), and the
** definitions convert them back. */
struct knr_pt {
    int u, v;
};
extern int knr_total;
int knr_store(int *slot, long v);
int knr_mix();
int knr_pick();
typedef int (*knr_fn)();
knr_fn knr_pointer(void);
