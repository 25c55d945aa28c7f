/*
** test_shims_net.c - the socket family (runtime/shims/net.c): nothing is
** sent (no byte reaches a socketpair or TCP peer, no connection reaches a
** listener), nothing the host could receive is taken, recorded responses
** are replayed, connect probes only when PTM_PROBE_CONNECT=1, and faults
** come through ptmOs.
*/
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

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
