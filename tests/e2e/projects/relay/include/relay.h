/* relay: a message relay whose transaction, post (src/post.c), reaches
** four other files: format.c, route.c, store.c and, in the static library
** libsum.a, lib/sum.c.  Built with ptmcc -fptm-mirror-all, its mirror runs
** inline; with one of them built by a plain compiler, it forks. */
#ifndef RELAY_H
#define RELAY_H

#include <stddef.h>

/* post: appends "<route> <n> <msg> #<sum>" to the log at path; returns the
** number of posts so far (this one included), -1 on failure. */
int post(const char *path, const char *msg);
/* post_strict: post, but a message the relay refuses ends the program. */
int post_strict(const char *path, const char *msg);

/* format.c */
int format_line(char *out, size_t cap, const char *route, int n, const char *msg,
                unsigned sum);
int format_depth(const char *msg, int depth);

/* route.c: the route of a message; route_depth recurses through
** format.c's format_depth (a cycle across files). */
const char *route_for(const char *msg);
int route_depth(const char *msg, int depth);

/* store.c: the log and the relay's counters. */
int store_append(const char *path, const char *line);
int store_count(void);
int store_posted(void);
void store_refuse(const char *msg);
extern int *store_counter;

/* lib/sum.c (libsum.a) */
unsigned sum_of(const char *s);

#endif
