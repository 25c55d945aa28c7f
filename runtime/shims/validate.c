/*
** shims/validate.c - ptm_validate() in a mirror.
**
** ptmcc turns ptm_validate(cond, fmt, ...) in a mirror clone into
** ptm_shim_validate, and a failed assert() (glibc's __assert_fail) into
** ptm_shim___assert_fail.  A failed check is the mirror's most direct evidence
** that the primary would fail on its data, so it becomes a PTM_EV_VALIDATE
** event whose target is the formatted message.
*/
#include <assert.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shims_int.h"

/*
** ptm_shim_validate: returns cond, always.  In a mirror, when cond is 0,
** records PTM_EV_VALIDATE with the message formatted from fmt (truncated to
** the event's target field) and result 0.  Outside a mirror, or when the
** check passed, fmt is never formatted.
*/
int ptm_shim_validate(int cond, const char *fmt, ...)
{
    va_list ap;

    if (cond || !ptmMirrorCurrent)
        return cond;
    va_start(ap, fmt);
    ptm_validate_failed(fmt, ap);
    va_end(ap);
    return cond;
}

void ptm_validate_failed(const char *fmt, va_list ap)
{
    char msg[PTM_TARGET_MAX + 8];
    struct ptmEvent *ev;
    uint64_t t0;

    if (!ptmMirrorCurrent) {
        /* This module's code may run in another runtime's mirror (a fork
        ** child of the program's): that mirror sees the check. */
        struct ptmPeer *p;
        for (int i = 0; (p = ptmPeerNext(&i)) != NULL;) {
            void (*failed)(const char *, va_list) = atomic_load(&p->validate_failed);
            if (failed && p->in_mirror && p->in_mirror()) {
                failed(fmt, ap);
                break;
            }
        }
        return;
    }
    t0 = ptmOsNowNs();
    msg[0] = '\0';
    if (fmt)
        vsnprintf(msg, sizeof msg, fmt, ap);
    ev = ptmMirrorRecord(PTM_EV_VALIDATE, PTM_CALL_ptm_validate, t0);
    if (ev) {
        ev->result = 0;
        ptmCopyField(ev->target, sizeof ev->target, msg);
    }
}

/* closing: the index of the bracket that closes the one at s[open]. */
static size_t closing(const char *s, size_t open)
{
    int depth = 0;
    for (size_t i = open; s[i]; i++) {
        if (s[i] == '(' || s[i] == '{')
            depth++;
        else if ((s[i] == ')' || s[i] == '}') && --depth == 0)
            return i;
    }
    return 0;
}

/* uninstrument: s (an assertion as assert() spelled it from a mirror
** clone) with each write-buffer translation ptmcc wrapped around an access
** replaced by the access, as the user wrote it. */
static void uninstrument(char *s)
{
    static const char *const opens[] = {"(*__extension__({ __auto_type __ptm_a",
                                        "(__extension__({ __auto_type __ptm_a"};
    for (int k = 0; k < 2; k++) {
        char *p;
        while ((p = strstr(s, opens[k])) != NULL) {
            char *eq = strstr(p, " = ");
            size_t end = closing(s, (size_t)(p - s));
            if (!eq || !end)
                return;
            char *inner = eq + 3 + (eq[3] == '&');
            size_t innerEnd = closing(s, (size_t)(inner - s));
            if (*inner != '(' || !innerEnd || innerEnd > end)
                return;
            size_t n = innerEnd - (size_t)(inner - s) - 1;
            memmove(p, inner + 1, n);
            memmove(p + n, s + end + 1, strlen(s + end + 1) + 1);
        }
    }
}

/*
** ptm_shim___assert_fail: a failed assert() in a mirror, where the primary
** would print the message and abort.  Records PTM_EV_VALIDATE, "assertion
** failed: <expression> (<file>:<line>)", and ends the mirror as the
** primary would end, by SIGABRT -- quietly: nothing reaches stderr.  An
** inline mirror's SIGABRT is caught by the inline executor (raise(), not
** abort(), which would keep glibc's abort lock held after the jump back).
** Outside a mirror: the real __assert_fail.
*/
void ptm_shim___assert_fail(const char *expr, const char *file, unsigned int line,
                            const char *fn)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    if (!m)
        __assert_fail(expr, file, line, fn);
    uint64_t t0 = ptmOsNowNs();
    char msg[PTM_TARGET_MAX + 8];
    char *text = strdup(expr);
    if (text)
        uninstrument(text);
    snprintf(msg, sizeof msg, "assertion failed: %s (%s:%u)", text ? text : expr, file, line);
    free(text);
    struct ptmEvent *ev = ptmMirrorRecord(PTM_EV_VALIDATE, PTM_CALL___assert_fail, t0);
    if (ev) {
        ev->result = 0;
        ptmCopyField(ev->target, sizeof ev->target, msg);
    }
    raise(SIGABRT);
    if (m->in_child)
        _exit(128 + SIGABRT); /* SIGABRT ignored in the child */
    /* Not reached in an executor's mirror: its SIGABRT never returns. */
    __assert_fail(expr, file, line, fn);
}

/* The other runtimes of the process record this one's checks in their
** mirrors (peers.c). */
__attribute__((constructor)) static void validatePublish(void)
{
    atomic_store(&ptmPeerSelf.validate_failed, ptm_validate_failed);
}

/*
** ptm_shim_abort: abort() in a mirror, where the primary would end the
** process by SIGABRT.  Records PTM_EV_VALIDATE, "abort() called", and
** ends the mirror by SIGABRT, an observation (crashed), as
** ptm_shim___assert_fail does; the process goes on.  Outside a mirror:
** the real abort().
*/
void ptm_shim_abort(void)
{
    struct ptmMirror *m = ptmMirrorCurrent;
    if (!m)
        abort();
    struct ptmEvent *ev = ptmMirrorRecord(PTM_EV_VALIDATE, PTM_CALL_abort, ptmOsNowNs());
    if (ev) {
        ev->result = 0;
        ptmCopyField(ev->target, sizeof ev->target, "abort() called");
    }
    raise(SIGABRT);
    if (m->in_child)
        _exit(128 + SIGABRT); /* SIGABRT ignored in the child */
    /* Not reached in an executor's mirror: its SIGABRT never returns. */
    abort();
}
