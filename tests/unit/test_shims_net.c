/*
** test_shims_net.c - the socket family (runtime/shims/net.c): nothing is
** sent (no byte reaches a socketpair or TCP peer, no connection reaches a
** listener), nothing the host could receive is taken, recorded responses
** are replayed, connect probes only when PTM_PROBE_CONNECT=1, and faults
** come through ptmOs.
*/
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "shims_test.h"

/* A TCP listener on 127.0.0.1, an ephemeral port.  OUT: *addr. */
static int listener(struct sockaddr_in *addr)
{
    socklen_t len = sizeof *addr;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    cr_assert_geq(s, 0);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(s, (struct sockaddr *)addr, sizeof *addr), 0);
    cr_assert_eq(listen(s, 4), 0);
    cr_assert_eq(getsockname(s, (struct sockaddr *)addr, &len), 0);
    return s;
}

/* A loopback port nobody listens on (bound, never listening). */
static int closedPort(struct sockaddr_in *addr)
{
    socklen_t len = sizeof *addr;
    int s = socket(AF_INET, SOCK_STREAM, 0);

    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(s, (struct sockaddr *)addr, sizeof *addr), 0);
    cr_assert_eq(getsockname(s, (struct sockaddr *)addr, &len), 0);
    return s;
}

static int pending(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 50) > 0 && (p.revents & POLLIN);
}

/* ---------------------------------------------------------------- real */

TestSuite(real, .init = makeDir, .fini = removeDir);

Test(real, the_socket_shims_are_the_real_calls)
{
    struct sockaddr_in addr;
    int l = listener(&addr), c, a;
    char buf[8];
    struct msghdr msg = {0};
    struct iovec iov = {buf, sizeof buf};

    cr_assert_null(ptmMirrorCurrent);
    c = ptm_shim_socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(c, 0);
    cr_assert_eq(ptm_shim_setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &(int){1}, sizeof(int)), 0);
    cr_assert_eq(ptm_shim_connect(c, (struct sockaddr *)&addr, sizeof addr), 0);
    cr_assert(pending(l));
    a = accept(l, NULL, NULL);
    cr_assert_eq(ptm_shim_send(c, "ab", 2, 0), 2);
    cr_assert_eq(ptm_shim_sendto(c, "c", 1, 0, NULL, 0), 1);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    iov.iov_len = 1;
    memcpy(buf, "d", 1);
    cr_assert_eq(ptm_shim_sendmsg(c, &msg, 0), 1);
    iov.iov_len = sizeof buf;
    cr_assert_eq(ptm_shim_recv(a, buf, 2, 0), 2);
    cr_assert_eq(ptm_shim_recvfrom(a, buf, 1, 0, NULL, NULL), 1);
    cr_assert_eq(ptm_shim_recvmsg(a, &msg, 0), 1);
    cr_assert_eq(buf[0], 'd');
    cr_assert_eq(ptm_shim_shutdown(c, SHUT_WR), 0);
    cr_assert_eq(ptm_shim_recv(a, buf, 1, 0), 0, "the real shutdown");
    cr_assert_eq(ptm_shim_close(c), 0);
    close(a);
    close(l);
}

/* -------------------------------------------------------------- mirror */

TestSuite(mirror, .init = enterMirror, .fini = leaveMirror);

Test(mirror, nothing_reaches_a_socketpair_peer)
{
    int sv[2];
    char buf[16];
    struct ptmEvent *e;

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_assert_eq(ptm_shim_send(sv[0], "secret", 6, 0), 6);
    cr_assert_eq(ptm_shim_write(sv[0], "more", 4), 4, "write on a socket is a send");
    e = lastOf(PTM_CALL_send);
    cr_assert_eq(e->bytes, 6);
    cr_assert(e->flags & PTM_EVF_EFFECT);
    cr_assert_not(pending(sv[1]), "no byte arrived");
    /* The peer's data is not taken. */
    cr_assert_eq(send(sv[1], "reply", 5, 0), 5);
    cr_assert_eq(ptm_shim_recv(sv[0], buf, sizeof buf, MSG_DONTWAIT), -1);
    cr_assert_eq(errno, EAGAIN, "no recorded response: would block");
    cr_assert_eq(lastOf(PTM_CALL_recv)->err, EAGAIN);
    cr_assert_not(lastOf(PTM_CALL_recv)->flags & PTM_EVF_EFFECT);
    cr_assert_eq(ptm_shim_recv(sv[0], buf, sizeof buf, 0), 0, "blocking: an empty read");
    cr_assert_eq(ptm_shim_read(sv[0], buf, sizeof buf), 0);
    cr_assert_eq(recv(sv[0], buf, sizeof buf, MSG_DONTWAIT), 5, "all there for the host");
    close(sv[0]);
    close(sv[1]);
}

Test(mirror, a_host_socket_s_state_predicts_the_error)
{
    int sv[2], nb[2];
    static char block[1 << 16];

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[1]);
    signal(SIGPIPE, SIG_DFL);
    cr_assert_eq(ptm_shim_send(sv[0], "x", 1, 0), -1);
    cr_assert_eq(errno, EPIPE, "the peer is gone");
    cr_assert_str_eq(lastOf(PTM_CALL_send)->detail, "SIGPIPE kills");
    cr_assert_eq(ptm_shim_send(sv[0], "x", 1, MSG_NOSIGNAL), -1);
    cr_assert_str_eq(lastOf(PTM_CALL_send)->detail, "");

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, nb), 0);
    while (send(nb[0], block, sizeof block, 0) > 0)
        ;
    cr_assert_eq(ptm_shim_send(nb[0], "x", 1, 0), -1);
    cr_assert_eq(errno, EAGAIN, "a full non-blocking socket");
    cr_assert_eq(lastOf(PTM_CALL_send)->err, EAGAIN);
    cr_assert_eq(ptm_shim_send(STDIN_FILENO + 1000, "x", 1, 0), -1);
    cr_assert_eq(errno, EBADF);
    writeFile(at("f"), "");
    int fd = open(at("f"), O_RDWR);
    cr_assert_eq(ptm_shim_send(fd, "x", 1, 0), -1);
    cr_assert_eq(errno, ENOTSOCK);
    close(fd);
    close(nb[0]);
    close(nb[1]);
    close(sv[0]);                           /* the mirror's entries are by number */
}

Test(mirror, no_connection_reaches_a_listener)
{
    struct sockaddr_in addr;
    int l = listener(&addr), s;
    char buf[8];

    unsetenv("PTM_PROBE_CONNECT");
    s = ptm_shim_socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(s, 0);
    cr_assert_eq(ptm_shim_send(s, "x", 1, MSG_NOSIGNAL), -1);
    cr_assert_eq(errno, EPIPE, "a TCP socket that is not connected");
    cr_assert_eq(ptm_shim_recv(s, buf, 1, 0), -1);
    cr_assert_eq(errno, ENOTCONN);
    cr_assert_eq(ptm_shim_setsockopt(s, IPPROTO_TCP, 1 /* TCP_NODELAY */, &(int){1}, sizeof(int)), 0);
    cr_assert_eq(ptm_shim_connect(s, (struct sockaddr *)&addr, sizeof addr), 0);
    cr_assert_str_eq(lastOf(PTM_CALL_connect)->detail, "not probed");
    cr_assert_eq(ptm_shim_connect(s, (struct sockaddr *)&addr, sizeof addr), -1);
    cr_assert_eq(errno, EISCONN);
    cr_assert_eq(ptm_shim_send(s, "GET /\r\n", 7, 0), 7);
    cr_assert_eq(ptm_shim_sendto(s, "x", 1, 0, NULL, 0), 1);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%u", ntohs(addr.sin_port));
    cr_assert_str_eq(lastOf(PTM_CALL_sendto)->target, want);
    cr_assert_eq(ptm_shim_shutdown(s, SHUT_WR), 0);
    cr_assert_eq(ptm_shim_send(s, "x", 1, MSG_NOSIGNAL), -1);
    cr_assert_eq(errno, EPIPE, "shut down in the mirror");
    cr_assert_not(pending(l), "the listener never saw a connection");
    cr_assert_eq(accept(l, NULL, NULL), -1);
    cr_assert_eq(errno, EAGAIN);
    cr_assert_eq(ptm_shim_close(s), 0);
    close(l);
}

Test(mirror, a_connect_probe_when_allowed)
{
    struct sockaddr_in open_, shut;
    int l = listener(&open_), c = closedPort(&shut), s;

    setenv("PTM_PROBE_CONNECT", "1", 1);
    s = ptm_shim_socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(ptm_shim_connect(s, (struct sockaddr *)&shut, sizeof shut), -1);
    cr_assert_eq(errno, ECONNREFUSED, "predicted by the probe");
    cr_assert_eq(lastOf(PTM_CALL_connect)->err, ECONNREFUSED);
    cr_assert(lastOf(PTM_CALL_connect)->flags & PTM_EVF_EFFECT);
    cr_assert_eq(ptm_shim_connect(s, (struct sockaddr *)&open_, sizeof open_), 0);
    cr_assert_eq(strncmp(lastOf(PTM_CALL_connect)->detail, "probe: rtt ", 11), 0,
                 "detail: %s", lastOf(PTM_CALL_connect)->detail);
    /* The probe connected and closed at once: that is what the switch allows. */
    int a = accept(l, NULL, NULL);
    cr_assert_geq(a, 0);
    char b;
    cr_assert_eq(read(a, &b, 1), 0, "the probe sent nothing");
    close(a);
    unsetenv("PTM_PROBE_CONNECT");
    close(l);
    close(c);
}

Test(mirror, non_blocking_tcp_connect_is_in_progress)
{
    struct sockaddr_in addr;
    int l = listener(&addr), s;

    s = ptm_shim_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    cr_assert_eq(ptm_shim_connect(s, (struct sockaddr *)&addr, sizeof addr), -1);
    cr_assert_eq(errno, EINPROGRESS, "as the real call");
    cr_assert_eq(lastOf(PTM_CALL_connect)->err, 0, "not an error");
    cr_assert_eq(ptm_shim_recv(s, &(char){0}, 1, 0), -1);
    cr_assert_eq(errno, EAGAIN);
    close(l);
}

Test(mirror, recorded_responses_are_replayed)
{
    struct sockaddr_in addr;
    int l = listener(&addr), s, u;
    char buf[16];

    ptmNetForget();
    cr_assert_eq(ptmNetRecordResponse((struct sockaddr *)&addr, sizeof addr, "HTTP/1.0 200\r\n", 14,
                                      25000000),
                 PTM_OK);
    cr_assert_eq(ptmNetRecordResponse(NULL, 0, "x", 1, 0), PTM_EINVAL);
    s = ptm_shim_socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(ptm_shim_connect(s, (struct sockaddr *)&addr, sizeof addr), 0);
    cr_assert_eq(ptm_shim_send(s, "GET /\r\n", 7, 0), 7);
    cr_assert_eq(ptm_shim_recv(s, buf, 4, MSG_PEEK), 4);
    cr_assert_eq(ptm_shim_recv(s, buf, 4, 0), 4);
    cr_assert_eq(memcmp(buf, "HTTP", 4), 0);
    cr_assert_eq(ptm_shim_read(s, buf, sizeof buf), 10, "the rest");
    cr_assert_eq(memcmp(buf, "/1.0 200\r\n", 10), 0);
    cr_assert_eq(ptm_shim_recv(s, buf, sizeof buf, MSG_DONTWAIT), -1, "then nothing more");
    cr_assert_eq(errno, EAGAIN);
    cr_assert_eq(mirror.virt_ns, 25000000, "the recorded latency, on the virtual clock");
    cr_assert_eq(ring->virt_sleep_ns, 25000000);
    cr_assert_not(pending(l));

    /* UDP: one whole response per receive, from the peer. */
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    cr_assert_eq(ptmNetRecordResponse((struct sockaddr *)&addr, sizeof addr, "dgram", 5, 0), PTM_OK);
    u = ptm_shim_socket(AF_INET, SOCK_DGRAM, 0);
    cr_assert_eq(ptm_shim_send(u, "q", 1, 0), -1);
    cr_assert_eq(errno, EDESTADDRREQ);
    cr_assert_eq(ptm_shim_sendto(u, "q", 1, 0, (struct sockaddr *)&addr, sizeof addr), 1);
    cr_assert_eq(ptm_shim_connect(u, (struct sockaddr *)&addr, sizeof addr), 0);
    cr_assert_eq(ptm_shim_recvfrom(u, buf, 3, 0, (struct sockaddr *)&from, &flen), 3);
    cr_assert_eq(from.sin_port, addr.sin_port);
    cr_assert_eq(ptm_shim_recv(u, buf, sizeof buf, MSG_DONTWAIT), -1, "the datagram was taken whole");
    ptmNetForget();
    close(l);
}

Test(mirror, an_unrecorded_receive_is_marked_pretended)
{
    struct sockaddr_in addr;
    int l = listener(&addr), s, t;
    char buf[16];
    struct ptmEvent *e;

    ptmNetForget();
    /* Nothing recorded for the peer: the empty read is invented. */
    s = ptm_shim_socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(ptm_shim_connect(s, (struct sockaddr *)&addr, sizeof addr), 0);
    cr_assert_eq(ptm_shim_send(s, "ping", 4, 0), 4);
    cr_assert_eq(ptm_shim_recv(s, buf, sizeof buf, 0), 0);
    e = lastOf(PTM_CALL_recv);
    cr_assert(e->flags & PTM_EVF_PRETENDED, "what the mirror computes from here is invented");
    cr_assert_str_eq(e->detail, "no recorded response");
    cr_assert_eq(e->err, 0);
    /* A second one is its own event: merging would lose the mark's detail. */
    cr_assert_eq(ptm_shim_recv(s, buf, sizeof buf, MSG_DONTWAIT), -1);
    cr_assert_eq(errno, EAGAIN);
    cr_assert(lastOf(PTM_CALL_recv)->flags & PTM_EVF_PRETENDED);
    cr_assert_eq(ptm_shim_read(s, buf, sizeof buf), 0, "read on a socket takes the same path");
    cr_assert(lastOf(PTM_CALL_read)->flags & PTM_EVF_PRETENDED);
    cr_assert_str_eq(lastOf(PTM_CALL_read)->detail, "no recorded response");
    cr_assert_eq(ptm_shim_recvfrom(s, buf, sizeof buf, 0, NULL, NULL), 0);
    cr_assert(lastOf(PTM_CALL_recvfrom)->flags & PTM_EVF_PRETENDED);

    /* Once the primary's response is recorded, a mirror replays it, and
    ** the empty read after it is the peer's close, as the primary saw. */
    cr_assert_eq(ptmNetRecordResponse((struct sockaddr *)&addr, sizeof addr, "pong", 4, 0), PTM_OK);
    t = ptm_shim_socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(ptm_shim_connect(t, (struct sockaddr *)&addr, sizeof addr), 0);
    cr_assert_eq(ptm_shim_recv(t, buf, sizeof buf, 0), 4);
    cr_assert_not(lastOf(PTM_CALL_recv)->flags & PTM_EVF_PRETENDED);
    cr_assert_str_eq(lastOf(PTM_CALL_recv)->detail, "");
    cr_assert_eq(ptm_shim_recv(t, buf, sizeof buf, 0), 0);
    cr_assert_not(lastOf(PTM_CALL_recv)->flags & PTM_EVF_PRETENDED);
    ptmNetForget();
    close(l);
}

Test(mirror, unix_socket_paths_are_checked)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    int srv, s;

    s = ptm_shim_socket(AF_UNIX, SOCK_STREAM, 0);
    snprintf(un.sun_path, sizeof un.sun_path, "%s", at("missing.sock"));
    cr_assert_eq(ptm_shim_connect(s, (struct sockaddr *)&un, sizeof un), -1);
    cr_assert_eq(errno, ENOENT);
    writeFile(at("plain"), "");
    snprintf(un.sun_path, sizeof un.sun_path, "%s", at("plain"));
    cr_assert_eq(ptm_shim_connect(s, (struct sockaddr *)&un, sizeof un), -1);
    cr_assert_eq(errno, ECONNREFUSED, "not a socket");
    srv = socket(AF_UNIX, SOCK_STREAM, 0);
    snprintf(un.sun_path, sizeof un.sun_path, "%s", at("srv.sock"));
    cr_assert_eq(bind(srv, (struct sockaddr *)&un, sizeof un), 0);
    cr_assert_eq(ptm_shim_connect(s, (struct sockaddr *)&un, sizeof un), -1);
    cr_assert_eq(errno, ECONNREFUSED, "bound, nobody listening");
    cr_assert_eq(listen(srv, 1), 0);
    cr_assert_eq(ptm_shim_connect(s, (struct sockaddr *)&un, sizeof un), 0);
    cr_assert_not(pending(srv), "no connection was made");
    cr_assert_eq(ptm_shim_send(s, "hello", 5, 0), 5);
    close(srv);
}

/* Fault injection: socket() failing, and a peer lookup that says a TCP
** socket is not connected. */
static int noSockets(int domain, int type, int proto)
{
    (void)domain, (void)type, (void)proto;
    errno = EMFILE;
    return -1;
}

static int notConnected(int fd, struct sockaddr *addr, socklen_t *len)
{
    (void)fd, (void)addr, (void)len;
    errno = ENOTCONN;
    return -1;
}

Test(mirror, faults_through_ptmOs)
{
    struct sockaddr_in addr;
    int l = listener(&addr), c, a;

    ptmOs.socket = noSockets;
    cr_assert_eq(ptm_shim_socket(AF_INET, SOCK_STREAM, 0), -1);
    cr_assert_eq(errno, EMFILE);
    cr_assert_eq(lastOf(PTM_CALL_socket)->err, EMFILE);
    ptmOsReset();
    /* A host TCP socket the kernel says is not connected: EPIPE. */
    c = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(connect(c, (struct sockaddr *)&addr, sizeof addr), 0);
    a = accept(l, NULL, NULL);
    ptmOs.getpeername = notConnected;
    cr_assert_eq(ptm_shim_send(c, "x", 1, MSG_NOSIGNAL), -1);
    cr_assert_eq(errno, EPIPE);
    ptmOsReset();
    close(a);
    close(c);
    close(l);
}

/* ------------------------------------------------------ recorded timeouts */

/* A primary's receive from a listener that never answers, on a blocking
** socket with a receive timeout of ms: EAGAIN, recorded as the peer's
** timeout.  Returns the wait it measured, in ns. */
static uint64_t primaryTimesOut(int l, const struct sockaddr_in *addr, long ms)
{
    struct timeval tv = {0, ms * 1000};
    int c = socket(AF_INET, SOCK_STREAM, 0);
    char b;

    cr_assert_eq(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    cr_assert_eq(connect(c, (const struct sockaddr *)addr, sizeof *addr), 0);
    uint64_t t0 = ptmOsNowNs();
    cr_assert_eq(ptm_primary_recv(c, &b, 1, 0), -1);
    cr_assert_eq(errno, EAGAIN, "the primary sees its own timeout, untouched");
    uint64_t waited = ptmOsNowNs() - t0;
    close(c);
    int a = accept(l, NULL, NULL); /* the primary's connection, not a mirror's */
    cr_assert_geq(a, 0);
    close(a);
    return waited;
}

/* A mirror's request to addr: connect, send, one blocking receive.  OUT:
** *ev, the receive's event.  Returns what the receive returned. */
static ssize_t mirrorAsks(const struct sockaddr_in *addr, char *buf, size_t n,
                          struct ptmEvent **ev)
{
    int s = ptm_shim_socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(ptm_shim_connect(s, (const struct sockaddr *)addr, sizeof *addr), 0);
    cr_assert_eq(ptm_shim_send(s, "?", 1, 0), 1);
    ssize_t r = ptm_shim_recv(s, buf, n, 0);
    int err = errno;
    *ev = lastOf(PTM_CALL_recv);
    ptm_shim_close(s);
    errno = err;
    return r;
}

Test(mirror, a_timed_out_receive_is_replayed_until_half_open)
{
    struct sockaddr_in addr;
    int l = listener(&addr);
    struct ptmEvent *ev;
    char buf[16];

    ptmNetForget();
    cr_assert_eq(ptmNetRecordResponse((struct sockaddr *)&addr, sizeof addr, "pong", 4, 1000000),
                 PTM_OK);
    uint64_t waited = primaryTimesOut(l, &addr, 20);
    cr_assert_geq(waited, 19000000);

    /* PTM_NET_HALF_OPEN_FIRST mirrors replay the timeout: its wait on the
    ** virtual clock, then EAGAIN, recorded (not pretended). */
    for (unsigned i = 1; i <= PTM_NET_HALF_OPEN_FIRST; i++) {
        uint64_t virt = mirror.virt_ns;
        cr_assert_eq(mirrorAsks(&addr, buf, sizeof buf, &ev), -1, "replay %u", i);
        cr_assert_eq(errno, EAGAIN);
        cr_assert_eq(ev->err, EAGAIN);
        cr_assert_not(ev->flags & (PTM_EVF_PRETENDED | PTM_EVF_HALF_OPEN));
        cr_assert(strncmp(ev->detail, "timed out after", 15) == 0, "detail: %s", ev->detail);
        char want[16];
        snprintf(want, sizeof want, "(%u of %u)", i, PTM_NET_HALF_OPEN_FIRST);
        cr_assert(strstr(ev->detail, want), "detail: %s", ev->detail);
        /* The recorded wait (measured inside ptm_primary_recv: within ours)
        ** is the mirror's. */
        cr_assert_geq(mirror.virt_ns - virt, 19000000);
        cr_assert_leq(mirror.virt_ns - virt, waited);
    }
    /* Then half-open: the old answer, for the primary to probe the peer,
    ** and so on until a primary's receive says how the peer is. */
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(mirrorAsks(&addr, buf, sizeof buf, &ev), 4);
        cr_assert_eq(memcmp(buf, "pong", 4), 0);
        cr_assert(ev->flags & PTM_EVF_HALF_OPEN);
        cr_assert_not(ev->flags & PTM_EVF_PRETENDED);
        cr_assert(strncmp(ev->detail, "half-open: timed out", 20) == 0, "detail: %s", ev->detail);
    }
    /* The probe's answer closes the timeout. */
    cr_assert_eq(ptmNetRecordResponse((struct sockaddr *)&addr, sizeof addr, "pang", 4, 1000000),
                 PTM_OK);
    cr_assert_eq(mirrorAsks(&addr, buf, sizeof buf, &ev), 4);
    cr_assert_eq(memcmp(buf, "pang", 4), 0);
    cr_assert_not(ev->flags & (PTM_EVF_HALF_OPEN | PTM_EVF_PRETENDED));
    cr_assert_str_eq(ev->detail, "");
    cr_assert_not(pending(l), "the mirrors connected to nobody");
    ptmNetForget();
    close(l);
}

Test(mirror, after_a_replayed_timeout_the_socket_s_next_receive_is_invented)
{
    struct sockaddr_in addr;
    int l = listener(&addr), s;
    char buf[8];

    ptmNetForget();
    primaryTimesOut(l, &addr, 5);
    s = ptm_shim_socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(ptm_shim_connect(s, (struct sockaddr *)&addr, sizeof addr), 0);
    cr_assert_eq(ptm_shim_recv(s, buf, sizeof buf, 0), -1);
    cr_assert_eq(errno, EAGAIN);
    /* A program that waits again: whether the late answer comes is not
    ** known, so what it gets is pretended, and a timeout with no answer
    ** recorded has none to go half-open with either. */
    cr_assert_eq(ptm_shim_recv(s, buf, sizeof buf, 0), 0);
    cr_assert(lastOf(PTM_CALL_recv)->flags & PTM_EVF_PRETENDED);
    cr_assert_eq(ptm_shim_read(s, buf, sizeof buf), 0);
    cr_assert(lastOf(PTM_CALL_read)->flags & PTM_EVF_PRETENDED);
    ptm_shim_close(s);
    ptmNetForget();
    close(l);
}

Test(mirror, only_a_blocking_receive_that_ran_out_of_time_is_a_timeout)
{
    struct sockaddr_in addr;
    struct ptmNetPeerView v;
    int l = listener(&addr), c;
    char b;

    ptmNetForget();
    /* Non-blocking, by the descriptor or the call: EAGAIN is no news. */
    c = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(connect(c, (struct sockaddr *)&addr, sizeof addr), 0);
    cr_assert_eq(ptm_primary_recv(c, &b, 1, MSG_DONTWAIT), -1);
    cr_assert_eq(ptm_primary_recvfrom(c, &b, 1, MSG_DONTWAIT, NULL, NULL), -1);
    cr_assert_eq(fcntl(c, F_SETFL, O_NONBLOCK), 0);
    cr_assert_eq(ptm_primary_recv(c, &b, 1, 0), -1);
    cr_assert_eq(errno, EAGAIN);
    ptmNetConsult((struct sockaddr *)&addr, sizeof addr, ptmOsNowNs(), &v);
    cr_assert_eq(v.replay, PTM_NET_REPLAY_NOTHING);
    cr_assert_eq(v.open_for, 0, "nothing recorded");
    close(c);
    /* recvfrom's timeout counts as recv's. */
    struct timeval tv = {0, 5000};
    c = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    cr_assert_eq(connect(c, (struct sockaddr *)&addr, sizeof addr), 0);
    cr_assert_eq(ptm_primary_recvfrom(c, &b, 1, 0, NULL, NULL), -1);
    cr_assert_eq(errno, EAGAIN, "errno is the real call's");
    ptmNetConsult((struct sockaddr *)&addr, sizeof addr, ptmOsNowNs(), &v);
    cr_assert_eq(v.replay, PTM_NET_REPLAY_TIMEOUT);
    cr_assert_eq(v.err, EAGAIN);
    close(c);
    ptmNetForget();
    close(l);
}

/* ------------------------------------------------- waits: poll, select */

/* A client socket connected to l's address (and the accepted end, which
** never answers).  OUT: *a. */
static int connectedTo(int l, const struct sockaddr_in *addr, int *a)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(connect(c, (const struct sockaddr *)addr, sizeof *addr), 0);
    struct pollfd p = {.fd = l, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 1000), 1);
    *a = accept(l, NULL, NULL);
    cr_assert_geq(*a, 0);
    return c;
}

Test(mirror, a_primary_s_wait_for_one_socket_that_ran_out_is_its_peer_s_timeout)
{
    struct sockaddr_in addr;
    struct ptmNetPeerView v;
    int l = listener(&addr), a, a2;

    ptmNetForget();
    int c = connectedTo(l, &addr, &a);
    /* Not a timeout: no limit of time, a limit of 0, writes only, two
    ** readers (which peer was late is not known), a descriptor ready. */
    struct pollfd p[2] = {{.fd = c, .events = POLLOUT}, {.fd = l, .events = POLLIN}};
    cr_assert_eq(ptm_primary_poll(p, 1, 10), 1, "writable");
    p[0].events = POLLIN;
    cr_assert_eq(ptm_primary_poll(p, 1, 0), 0);
    cr_assert_eq(ptm_primary_poll(p, 2, 10), 0);
    struct timespec zero = {0, 0};
    cr_assert_eq(ptm_primary_ppoll(p, 1, &zero, NULL), 0);
    p[0].events = POLLOUT;
    cr_assert_eq(ptm_primary_poll(p, 2, 10), 1, "the other's write ready");
    ptmNetConsult((struct sockaddr *)&addr, sizeof addr, ptmOsNowNs(), &v);
    cr_assert_eq(v.replay, PTM_NET_REPLAY_NOTHING);
    /* A listener's wait has no peer. */
    struct pollfd pl = {.fd = l, .events = POLLIN};
    cr_assert_eq(ptm_primary_poll(&pl, 1, 10), 0);
    ptmNetConsult((struct sockaddr *)&addr, sizeof addr, ptmOsNowNs(), &v);
    cr_assert_eq(v.replay, PTM_NET_REPLAY_NOTHING);
    /* One socket's read readiness, with another's writes: its peer's. */
    int c2 = connectedTo(l, &addr, &a2);
    struct pollfd q[2] = {{.fd = c, .events = POLLIN}, {.fd = -1, .events = POLLIN}};
    uint64_t t0 = ptmOsNowNs();
    cr_assert_eq(ptm_primary_poll(q, 2, 20), 0);
    ptmNetConsult((struct sockaddr *)&addr, sizeof addr, ptmOsNowNs(), &v);
    cr_assert_eq(v.replay, PTM_NET_REPLAY_TIMEOUT);
    cr_assert_eq(v.err, EAGAIN);
    cr_assert_geq(v.wait_ns, 19 * 1000000ull);
    cr_assert_leq(v.wait_ns, ptmOsNowNs() - t0);
    /* ppoll and select record the same way. */
    ptmNetForget();
    struct timespec ts = {0, 10 * 1000000L};
    cr_assert_eq(ptm_primary_ppoll(q, 1, &ts, NULL), 0);
    ptmNetConsult((struct sockaddr *)&addr, sizeof addr, ptmOsNowNs(), &v);
    cr_assert_eq(v.replay, PTM_NET_REPLAY_TIMEOUT);
    ptmNetForget();
    fd_set rd, wr;
    struct timeval tv = {0, 10000};
    FD_ZERO(&rd);
    FD_SET(c, &rd);
    FD_SET(c2, &rd);
    cr_assert_eq(ptm_primary_select((c > c2 ? c : c2) + 1, &rd, NULL, NULL, &tv), 0);
    ptmNetConsult((struct sockaddr *)&addr, sizeof addr, ptmOsNowNs(), &v);
    cr_assert_eq(v.replay, PTM_NET_REPLAY_NOTHING, "two readers");
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_SET(c, &rd);
    FD_SET(l, &wr);
    tv = (struct timeval){0, 10000};
    cr_assert_eq(ptm_primary_select((c > l ? c : l) + 1, &rd, &wr, NULL, &tv), 0);
    ptmNetConsult((struct sockaddr *)&addr, sizeof addr, ptmOsNowNs(), &v);
    cr_assert_eq(v.replay, PTM_NET_REPLAY_TIMEOUT);
    /* A set the real call refuses is refused as in a plain build (a bad
    ** timeout glibc itself reads, in either build). */
    ptmNetForget();
    tv = (struct timeval){0, 10000};
    cr_assert_eq(ptm_primary_select(c + 1, (fd_set *)8, NULL, NULL, &tv), -1);
    cr_assert_eq(errno, EFAULT);
    cr_assert_eq(ptm_primary_poll((struct pollfd *)8, 1, 10), -1);
    cr_assert_eq(errno, EFAULT);
    ptmNetConsult((struct sockaddr *)&addr, sizeof addr, ptmOsNowNs(), &v);
    cr_assert_eq(v.replay, PTM_NET_REPLAY_NOTHING);
    close(c2);
    close(a2);
    close(c);
    close(a);
    close(l);
    ptmNetForget();
}

Test(mirror, a_mirror_s_wait_replays_the_peer_s_timeout_once_per_socket)
{
    struct sockaddr_in addr;
    int l = listener(&addr);
    char buf[8];

    ptmNetForget();
    cr_assert_eq(ptmNetRecordResponse((struct sockaddr *)&addr, sizeof addr, "pong", 4, 2000000),
                 PTM_OK);
    primaryTimesOut(l, &addr, 5);
    int s = ptm_shim_socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(ptm_shim_connect(s, (struct sockaddr *)&addr, sizeof addr), 0);
    struct pollfd p = {.fd = s, .events = POLLIN | POLLOUT};
    uint64_t virt = mirror.virt_ns;
    cr_assert_eq(ptm_shim_poll(&p, 1, 30), 1, "writable at once: no answer waited for");
    cr_assert_eq(p.revents, POLLOUT);
    cr_assert_eq(mirror.virt_ns, virt);
    p.events = POLLIN;
    cr_assert_eq(ptm_shim_poll(&p, 1, 30), 0, "not readable in time");
    struct ptmEvent *ev = lastOf(PTM_CALL_poll);
    cr_assert(strstr(ev->detail, "(1 of 4)"), "detail: %s", ev->detail);
    cr_assert_geq(mirror.virt_ns - virt, 30 * 1000000ull, "the poll's timeout, waited");
    cr_assert_eq(ptm_shim_poll(&p, 1, 30), 1, "after the replayed timeout: invented");
    ev = lastOf(PTM_CALL_poll);
    cr_assert(ev->flags & PTM_EVF_PRETENDED);
    /* The first poll replayed it: "(1 of 4)" on its event, not a second
    ** call of the spell from the receive. */
    cr_assert_eq(ptm_shim_recv(s, buf, sizeof buf, 0), 0);
    cr_assert(lastOf(PTM_CALL_recv)->flags & PTM_EVF_PRETENDED);
    ptm_shim_close(s);
    struct ptmNetPeerView v;
    ptmNetConsult((struct sockaddr *)&addr, sizeof addr, ptmOsNowNs(), &v);
    cr_assert_eq(v.replays, 2, "one call for the mirror's polls and receive, then this one");

    /* Half-open: readable after the answer's latency; the receive gets it. */
    for (int i = 0; i < 2; i++)
        ptmNetConsult((struct sockaddr *)&addr, sizeof addr, ptmOsNowNs(), &v);
    s = ptm_shim_socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(ptm_shim_connect(s, (struct sockaddr *)&addr, sizeof addr), 0);
    p = (struct pollfd){.fd = s, .events = POLLIN};
    virt = mirror.virt_ns;
    cr_assert_eq(ptm_shim_poll(&p, 1, 30), 1);
    cr_assert_eq(p.revents, POLLIN);
    ev = lastOf(PTM_CALL_poll);
    cr_assert(ev->flags & PTM_EVF_HALF_OPEN);
    cr_assert(strncmp(ev->detail, "half-open", 9) == 0, "detail: %s", ev->detail);
    cr_assert_eq(mirror.virt_ns - virt, 2000000, "the answer's latency, once");
    cr_assert_eq(ptm_shim_recv(s, buf, sizeof buf, 0), 4);
    cr_assert_eq(memcmp(buf, "pong", 4), 0);
    cr_assert_eq(mirror.virt_ns - virt, 2000000);
    ptm_shim_close(s);

    /* select, ppoll: the same, through their own arguments. */
    ptmNetForget();
    primaryTimesOut(l, &addr, 5);
    s = ptm_shim_socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(ptm_shim_connect(s, (struct sockaddr *)&addr, sizeof addr), 0);
    fd_set rd, ex;
    FD_ZERO(&rd);
    FD_ZERO(&ex);
    FD_SET(s, &rd);
    FD_SET(s, &ex);
    struct timeval tv = {0, 25000};
    cr_assert_eq(ptm_shim_select(s + 1, &rd, NULL, &ex, &tv), 0);
    cr_assert_not(FD_ISSET(s, &rd));
    cr_assert_not(FD_ISSET(s, &ex));
    cr_assert_eq(tv.tv_sec, 0);
    cr_assert_eq(tv.tv_usec, 0, "a timeout that ran out");
    ev = lastOf(PTM_CALL_select);
    cr_assert(strncmp(ev->detail, "timed out after", 15) == 0, "detail: %s", ev->detail);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%u", ntohs(addr.sin_port));
    cr_assert_str_eq(ev->target, want, "the peer, for the parent of a fork mirror");
    ptm_shim_close(s);
    s = ptm_shim_socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(ptm_shim_connect(s, (struct sockaddr *)&addr, sizeof addr), 0);
    p = (struct pollfd){.fd = s, .events = POLLIN};
    struct timespec ts = {0, 5 * 1000000L};
    cr_assert_eq(ptm_shim_ppoll(&p, 1, &ts, NULL), 0);
    cr_assert(strstr(lastOf(PTM_CALL_ppoll)->detail, "(2 of 4)"));
    /* An endless wait does not time out: the receive consults. */
    ptm_shim_close(s);
    s = ptm_shim_socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(ptm_shim_connect(s, (struct sockaddr *)&addr, sizeof addr), 0);
    p = (struct pollfd){.fd = s, .events = POLLIN};
    cr_assert_eq(ptm_shim_poll(&p, 1, -1), 1);
    cr_assert_eq(ptm_shim_recv(s, buf, sizeof buf, 0), -1);
    cr_assert_eq(errno, EAGAIN);
    cr_assert(strstr(lastOf(PTM_CALL_recv)->detail, "(3 of 4)"));
    ptm_shim_close(s);
    cr_assert_not(pending(l), "the mirrors connected to nobody");
    ptmNetForget();
    close(l);
}

Test(mirror, a_mirror_s_wait_checks_its_arguments_and_other_descriptors)
{
    struct pollfd p[3];
    int fd = ptm_shim_open(at("f"), O_RDWR | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    p[0] = (struct pollfd){.fd = fd, .events = POLLIN | POLLOUT};
    p[1] = (struct pollfd){.fd = 987, .events = POLLIN};
    p[2] = (struct pollfd){.fd = -1, .events = POLLIN};
    cr_assert_eq(ptm_shim_poll(p, 3, 10), 2);
    cr_assert_eq(p[0].revents, POLLIN | POLLOUT, "a regular file is always ready");
    cr_assert_eq(p[1].revents, POLLNVAL);
    cr_assert_eq(p[2].revents, 0);
    cr_assert_not(lastOf(PTM_CALL_poll)->flags & PTM_EVF_PRETENDED);
    cr_assert_eq(ptm_shim_poll(NULL, 1, 0), -1);
    cr_assert_eq(errno, EFAULT);
    uint64_t virt = mirror.virt_ns;
    cr_assert_eq(ptm_shim_poll(NULL, 0, 40), 0, "a sleep");
    cr_assert_eq(mirror.virt_ns - virt, 40 * 1000000ull);
    struct timespec bad = {0, 1000000000L};
    cr_assert_eq(ptm_shim_ppoll(p, 1, &bad, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(ptm_shim_select(FD_SETSIZE + 1, NULL, NULL, NULL, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(987, &rd);
    cr_assert_eq(ptm_shim_select(988, &rd, NULL, NULL, NULL), -1);
    cr_assert_eq(errno, EBADF);
    struct timeval tv = {0, 1000000};
    cr_assert_eq(ptm_shim_select(1, NULL, NULL, NULL, &tv), -1);
    cr_assert_eq(errno, EINVAL);
    ptm_shim_close(fd);
}

/* ----------------------------------------------- the table, by itself */

/* 127.0.0.1:port. */
static struct sockaddr_in portAddr(unsigned port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* What a mirror's first receive from 127.0.0.1:port replays at now. */
static struct ptmNetPeerView consultPort(unsigned port, uint64_t now)
{
    struct sockaddr_in a = portAddr(port);
    struct ptmNetPeerView v;
    ptmNetConsult((struct sockaddr *)&a, sizeof a, now, &v);
    return v;
}

/* A primary's receive from 127.0.0.1:port timed out after wait_ns, at now. */
static void timeoutAt(unsigned port, uint64_t wait_ns, uint64_t now)
{
    struct sockaddr_in a = portAddr(port);
    cr_assert_eq(ptmNetRecordTimeout((struct sockaddr *)&a, sizeof a, wait_ns, EAGAIN, now), PTM_OK);
}

/* A primary received "ok" from 127.0.0.1:port. */
static void answerOf(unsigned port)
{
    struct sockaddr_in a = portAddr(port);
    cr_assert_eq(ptmNetRecordResponse((struct sockaddr *)&a, sizeof a, "ok", 2, 1000), PTM_OK);
}

#define MS 1000000ull

Test(net_table, the_half_open_clock)
{
    const uint64_t at = 1000 * MS;
    struct ptmNetTimeout t = {.wait_ns = 50 * MS, .at_ns = at, .probe_at = 5, .err = EAGAIN};

    cr_assert(ptmNetTimeoutOpen(&t, at));
    cr_assert(ptmNetTimeoutOpen(&t, at + 199 * MS), "4 receives of 50 ms: 200 ms");
    cr_assert_not(ptmNetTimeoutOpen(&t, at + 200 * MS));
    /* A clock behind the record (it jumped back, or the entry is not
    ** this clock's): no time passed, and the count still opens it. */
    cr_assert(ptmNetTimeoutOpen(&t, 0));
    cr_assert(ptmNetTimeoutOpen(&t, at - 1));
    t.calls = 4;
    cr_assert_not(ptmNetTimeoutOpen(&t, 0), "call 5 probes");
    t.calls = 3;
    cr_assert(ptmNetTimeoutOpen(&t, 0), "call 4 replays");
    t.calls = 0;
    /* A clock that jumped far ahead: half-open, never a wrapped age. */
    cr_assert_not(ptmNetTimeoutOpen(&t, UINT64_MAX));
    /* The time is the replays left when the timeout was recorded. */
    t.calls = t.rec_calls = 2;
    cr_assert(ptmNetTimeoutOpen(&t, at + 99 * MS));
    cr_assert_not(ptmNetTimeoutOpen(&t, at + 100 * MS));
    t.calls = t.rec_calls = 0;
    /* A probe let through: half-open until a primary says how the peer is. */
    t.probed_at = 1;
    cr_assert_not(ptmNetTimeoutOpen(&t, at));
    t.probed_at = 0;
    /* Tiny waits count as 1 ms each; huge ones are bounded. */
    t.wait_ns = 1;
    cr_assert(ptmNetTimeoutOpen(&t, at + 3 * MS));
    cr_assert_not(ptmNetTimeoutOpen(&t, at + 4 * MS));
    t.wait_ns = UINT64_MAX / 2;
    t.probe_at = PTM_NET_HALF_OPEN_MAX + 1;
    cr_assert(ptmNetTimeoutOpen(&t, at + (uint64_t)PTM_NET_HALF_OPEN_MAX_MS * MS - 1));
    cr_assert_not(ptmNetTimeoutOpen(&t, at + (uint64_t)PTM_NET_HALF_OPEN_MAX_MS * MS));
    /* A count at its end, or a probe_at of 0 (hostile): half-open. */
    t.calls = UINT_MAX;
    cr_assert_not(ptmNetTimeoutOpen(&t, at));
    t.calls = 0;
    t.probe_at = 0;
    cr_assert_not(ptmNetTimeoutOpen(&t, at));
    t.probe_at = 5;
    t.wait_ns = 0;
    cr_assert_not(ptmNetTimeoutOpen(&t, at), "no timeout");
    cr_assert_not(ptmNetTimeoutOpen(NULL, at));
}

Test(net_table, timeouts_never_push_out_more_than_half_the_answers)
{
    const uint64_t now = 100 * MS;

    ptmNetForget();
    for (unsigned p = 1; p <= PTM_NET_ENDPOINTS; p++)
        answerOf(p);
    /* A flood of peers that only time out (a scan, a dead subnet). */
    for (unsigned p = 0; p < 1000; p++)
        timeoutAt(20000 + p, MS, now);
    unsigned kept = 0;
    for (unsigned p = 1; p <= PTM_NET_ENDPOINTS; p++)
        kept += consultPort(p, now).replay == PTM_NET_REPLAY_ANSWER;
    cr_assert_eq(kept, PTM_NET_ENDPOINTS / 2, "the newer half of the answers stays");
    for (unsigned p = PTM_NET_ENDPOINTS / 2 + 1; p <= PTM_NET_ENDPOINTS; p++)
        cr_assert_eq(consultPort(p, now).replay, PTM_NET_REPLAY_ANSWER, "port %u", p);
    cr_assert_eq(consultPort(20999, now).replay, PTM_NET_REPLAY_TIMEOUT, "the latest timeouts are kept");
    /* One peer timing out again and again holds one entry. */
    ptmNetForget();
    for (unsigned p = 1; p < PTM_NET_ENDPOINTS; p++)
        answerOf(p);
    for (unsigned i = 0; i < 10000; i++)
        timeoutAt(9999, MS, now + i);
    for (unsigned p = 1; p < PTM_NET_ENDPOINTS; p++)
        cr_assert_eq(consultPort(p, now).replay, PTM_NET_REPLAY_ANSWER, "port %u", p);
    ptmNetForget();
}

static atomic_int recording;

/* A thread: records timeouts of port 5 while recording is set, so that
** the table's lock is often held when the test thread forks. */
static void *recordTimeouts(void *arg)
{
    (void)arg;
    while (atomic_load(&recording))
        timeoutAt(5, 50 * MS, ptmOsNowNs());
    return NULL;
}

Test(net_table, a_fork_child_never_waits_for_the_table_and_its_count_stays_there)
{
    uint64_t now = 100 * MS;
    ptmNetForget();
    answerOf(5);
    timeoutAt(5, 50 * MS, now);
    pid_t pid = fork();
    if (pid == 0) {
        /* A fork mirror's consults: the child's copy counts them. */
        for (int i = 0; i < 3; i++)
            if (consultPort(5, now).replay != PTM_NET_REPLAY_TIMEOUT)
                _exit(1);
        _exit(consultPort(5, now).replays == 4 ? 0 : 2);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    cr_assert_eq(consultPort(5, now).replays, 1, "the child's own count stays in the child (tx.c counts its events)");

    /* A child forked while another thread holds the table's lock (a
    ** lock no thread of the child will ever release) sees a busy table
    ** and never waits for it. */
    pthread_t t;
    atomic_store(&recording, 1);
    cr_assert_eq(pthread_create(&t, NULL, recordTimeouts, NULL), 0);
    for (int round = 0; round < 50; round++) {
        pid = fork();
        if (pid == 0) {
            alarm(5);
            (void)consultPort(5, ptmOsNowNs()); /* SIGALRM if it waited */
            _exit(0);
        }
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "round %d: status %d", round, st);
    }
    atomic_store(&recording, 0);
    pthread_join(t, NULL);
    ptmNetForget();
}

struct hammer {
    int consult;                  /* consults, else records */
    unsigned seed;                /* where in the 48 peers it starts */
};

/* A thread: 20000 consults, or records of timeouts and answers, of 48
** peers.  Returns NULL, or (void *)1 when a consult saw a count out of
** its bounds. */
static void *hammerTable(void *arg)
{
    struct hammer *h = arg;
    for (unsigned i = 0; i < 20000; i++) {
        unsigned port = 40000 + (h->seed + i * 7) % 48; /* more peers than entries */
        uint64_t now = ptmOsNowNs();
        if (h->consult) {
            struct ptmNetPeerView v = consultPort(port, now);
            if (v.replay == PTM_NET_REPLAY_TIMEOUT &&
                (v.replays == 0 || v.replays > v.open_for))
                return (void *)1;
        } else if (i % 3) {
            timeoutAt(port, MS, now);
        } else {
            answerOf(port);
        }
    }
    return NULL;
}

Test(net_table, threads_record_and_consult_at_once)
{
    pthread_t t[6];
    struct hammer h[6];
    ptmNetForget();
    for (int i = 0; i < 6; i++) {
        h[i] = (struct hammer){.consult = i % 2, .seed = (unsigned)i * 13};
        cr_assert_eq(pthread_create(&t[i], NULL, hammerTable, &h[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        cr_assert_null(bad, "thread %d saw an inconsistent entry", i);
    }
    /* Every peer still has at most one entry: an answer recorded now is
    ** the one replayed. */
    for (unsigned p = 40000; p < 40048; p++) {
        answerOf(p);
        cr_assert_eq(consultPort(p, ptmOsNowNs()).replay, PTM_NET_REPLAY_ANSWER);
    }
    ptmNetForget();
}

/* A fork mirror's receive event: a replayed timeout of target, in r. */
static void forkReplayEvent(struct ptmRing *r, unsigned call, const char *target,
                            const char *detail)
{
    struct ptmEvent *ev = ptmRingPush(r);
    cr_assert_not_null(ev);
    ev->kind = PTM_EV_CALL;
    ev->call = (uint16_t)call;
    ev->err = EAGAIN;
    ev->result = -1;
    snprintf(ev->target, sizeof ev->target, "%s", target);
    snprintf(ev->detail, sizeof ev->detail, "%s", detail);
}

Test(net_table, a_fork_mirror_s_replays_are_counted_from_its_events)
{
    const uint64_t now = 100 * MS;
    struct ptmRing *r = NULL;
    char target[64];

    ptmNetForget();
    answerOf(6);
    timeoutAt(6, 50 * MS, now);
    cr_assert_eq(ptmRingCreate(64, &r), PTM_OK);
    snprintf(target, sizeof target, "127.0.0.1:%u", 6u);
    forkReplayEvent(r, PTM_CALL_recv, target, "timed out after 50.0ms, 1ms ago (1 of 4)");
    forkReplayEvent(r, PTM_CALL_read, target, "timed out after 50.0ms, 1ms ago (2 of 4)");
    /* Not counted: another detail, another call, no errno, garbage. */
    forkReplayEvent(r, PTM_CALL_recv, target, "no recorded response");
    forkReplayEvent(r, PTM_CALL_send, target, "timed out after 50.0ms");
    forkReplayEvent(r, PTM_CALL_recv, "127.0.0.1:6x", "timed out after 50.0ms");
    forkReplayEvent(r, PTM_CALL_recv, "[::1:6", "timed out after 50.0ms");
    forkReplayEvent(r, PTM_CALL_recv, "127.0.0.1:99999", "timed out after 50.0ms");
    forkReplayEvent(r, PTM_CALL_recv, "unix:@abstract", "timed out after 50.0ms");
    struct ptmEvent *junk = ptmRingPush(r);
    memset(junk, 'A', sizeof *junk); /* no terminating NUL anywhere */
    junk->kind = PTM_EV_CALL;
    junk->call = PTM_CALL_recv;
    junk->err = EAGAIN;
    ptmNetCountForkReplays(r);
    ptmNetCountForkReplays(NULL);
    struct ptmNetPeerView v = consultPort(6, now);
    cr_assert_eq(v.replay, PTM_NET_REPLAY_TIMEOUT);
    cr_assert_eq(v.replays, 3, "two counted from the child's events, then this one");
    /* Counting stops where the timeout goes half-open by count. */
    for (int i = 0; i < 10; i++)
        ptmNetCountForkReplays(r);
    v = consultPort(6, now);
    cr_assert(v.half_open);
    /* IPv6 and Unix paths are read back too. */
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(7),
                              .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    struct sockaddr_un un = {.sun_family = AF_UNIX, .sun_path = "/run/ptm-test.sock"};
    socklen_t unlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(un.sun_path) + 1);
    cr_assert_eq(ptmNetRecordTimeout((struct sockaddr *)&a6, sizeof a6, MS, EAGAIN, now), PTM_OK);
    cr_assert_eq(ptmNetRecordTimeout((struct sockaddr *)&un, unlen, MS, EAGAIN, now), PTM_OK);
    ptmRingReset(r);
    forkReplayEvent(r, PTM_CALL_recvfrom, "[::1]:7", "timed out after 1.0ms, 0ms ago (1 of 4)");
    forkReplayEvent(r, PTM_CALL_recvmsg, "unix:/run/ptm-test.sock", "timed out after 1.0ms");
    /* A wait that replayed a timeout returned 0, with no errno. */
    forkReplayEvent(r, PTM_CALL_poll, "[::1]:7", "timed out after 1.0ms, 0ms ago (2 of 4)");
    r->ev[ptmRingCount(r) - 1].err = 0;
    r->ev[ptmRingCount(r) - 1].result = 0;
    ptmNetCountForkReplays(r);
    ptmNetConsult((struct sockaddr *)&a6, sizeof a6, now, &v);
    cr_assert_eq(v.replays, 3);
    ptmNetConsult((struct sockaddr *)&un, unlen, now, &v);
    cr_assert_eq(v.replays, 2);
    ptmRingDestroy(r);
    ptmNetForget();
}
