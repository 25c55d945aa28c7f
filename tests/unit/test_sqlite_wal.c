/*
** test_sqlite_wal.c - the private copy of the WAL index brought up to date
** through a read-only mapping of the real -shm (runtime/shims/sqlite_wal.c):
** the bytes SQLite looks at equal the real file's after each kind of copy
** (none, the frames appended since, whole); a header SQLite would not
** accept is not taken for one; a -shm shorter than the mapping is never
** read past its end.  Through the overlay: a mirror after each way the
** database can change (a commit here or from another connection, each
** checkpoint mode, a WAL restart under new salts, VACUUM, the last
** connection's close and a new session) sees the new state, never a copy
** kept from before; a -shm that shrank under the mapping leaves the next
** mirror right, and a fault in it ends an inline mirror as crashed.
*/
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "shims_test.h"
#include "shims/sqlite_int.h"

#define REGION PTM_SQL_SHM_REGION

static sqlite3 *hostDb;

static void setup(void)
{
    enterMirror();
}

static void teardown(void)
{
    if (hostDb)
        sqlite3_close(hostDb);
    hostDb = NULL;
    leaveMirror();
}

/* sqlite3_exec of sql on db, no callback: its result. */
static int run(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* One integer from a query on db; -1 when there is no row. */
static long long queryInt(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    long long v = -1;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
    if ((rc = sqlite3_step(st)) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    cr_assert(rc == SQLITE_ROW || rc == SQLITE_DONE, "%s: %d %s", sql, rc, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return v;
}

/* A WAL database of `rows` accounts, its host connection left open (the
** -wal and -shm stay), no automatic checkpoint. */
static const char *makeWalDb(int rows)
{
    const char *path = at("wal.db");
    cr_assert_eq(sqlite3_open(path, &hostDb), SQLITE_OK);
    cr_assert_eq(run(hostDb, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;"
                             "CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER);"),
                 SQLITE_OK);
    for (int i = 1; i <= rows; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "INSERT INTO accounts VALUES(%d, %d)", i, i * 10);
        cr_assert_eq(run(hostDb, sql), SQLITE_OK);
    }
    return path;
}

/* The native 32-bit word at p. */
static uint32_t u32At(const unsigned char *p)
{
    uint32_t x;
    memcpy(&x, p, 4);
    return x;
}

/* The bytes SQLite reads of a copy with header mxFrame mx: the header, the
** page numbers of frames 1..mx, every hash slot of regions 0..n-1, equal to
** the file's. */
static void assertCopyIsFile(int fd, void *const *regions, int n)
{
    unsigned char *real = malloc((size_t)n * REGION);
    uint32_t mx = u32At(regions[0] + 16);
    ssize_t got = pread(fd, real, (size_t)n * REGION, 0);

    cr_assert_geq(got, PTM_SQL_SHM_HDR);
    memset(real + got, 0, (size_t)n * REGION - (size_t)got);
    cr_assert_eq(memcmp(regions[0], real, 96), 0, "the header differs");
    for (int i = 0; i < n; i++) {
        uint32_t zero = i == 0 ? 0 : 4062 + (uint32_t)(i - 1) * 4096;
        uint32_t cap = i == 0 ? 4062 : 4096, k = mx > zero ? mx - zero : 0;
        size_t base = i == 0 ? PTM_SQL_SHM_HDR : 0;
        if (k > cap)
            k = cap;
        cr_assert_eq(memcmp((unsigned char *)regions[i] + base, real + (size_t)i * REGION + base,
                            4 * (size_t)k),
                     0, "region %d: page numbers differ", i);
        cr_assert_eq(memcmp((unsigned char *)regions[i] + 16384,
                            real + (size_t)i * REGION + 16384, 16384),
                     0, "region %d: hash slots differ", i);
    }
    free(real);
}

/* Each kind of copy against the real -shm of a WAL database, across two
** regions (over 4062 frames). */
Test(sqlite_wal, copies_equal_the_real_index, .init = setup, .fini = teardown)
{
    const char *path = makeWalDb(3);
    char shm[256];
    struct ptmSqlShmView v = {0};
    unsigned char hdr[PTM_SQL_SHM_HDR], seen[PTM_SQL_SHM_SEEN];
    void *regions[2] = {calloc(1, REGION), calloc(1, REGION)};
    struct stat st;
    int fd;

    snprintf(shm, sizeof shm, "%s-shm", path);
    fd = open(shm, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq(ptmSqlShmViewMap(&v, fd, st.st_dev, st.st_ino, 2 * REGION), 0);
    cr_assert_eq(ptmSqlShmCopy(&v, st.st_size, regions, 1, NULL, 1, hdr), PTM_SQL_SHM_WHOLE);
    cr_assert(ptmSqlShmHeaderValid(hdr));
    assertCopyIsFile(fd, regions, 1);
    memcpy(seen, hdr, sizeof seen);
    cr_assert_eq(ptmSqlShmCopy(&v, st.st_size, regions, 1, seen, 1, hdr), PTM_SQL_SHM_SAME);
    cr_assert_eq(ptmSqlShmCopy(&v, st.st_size, regions, 1, seen, 0, hdr), PTM_SQL_SHM_WHOLE,
                 "a copy SQLite wrote into is copied whole");

    /* Commits: the frames appended since, then past region 0's 4062. */
    for (int round = 0; round < 3; round++) {
        int commits = round == 2 ? 4200 : 5;
        cr_assert_eq(run(hostDb, "BEGIN"), SQLITE_OK);
        for (int i = 0; i < commits; i++) {
            char sql[128];
            snprintf(sql, sizeof sql, "UPDATE accounts SET balance=%d WHERE id=%d", i, 1 + i % 3);
            cr_assert_eq(run(hostDb, sql), SQLITE_OK);
            if (round == 2) {
                cr_assert_eq(run(hostDb, "COMMIT; BEGIN"), SQLITE_OK);
            }
        }
        cr_assert_eq(run(hostDb, "COMMIT"), SQLITE_OK);
        cr_assert_eq(fstat(fd, &st), 0);
        memcpy(seen, hdr, sizeof seen);
        cr_assert_eq(ptmSqlShmCopy(&v, st.st_size, regions, 2, seen, 1, hdr), PTM_SQL_SHM_GROWN,
                     "round %d", round);
        cr_assert_gt(u32At(hdr + 16), u32At(seen + 16));
        assertCopyIsFile(fd, regions, 2);
    }
    cr_assert_gt(u32At(hdr + 16), 4062, "the test reached region 1");

    /* A checkpoint alone moves nBackfill: the header only. */
    cr_assert_eq(run(hostDb, "PRAGMA wal_checkpoint(PASSIVE)"), SQLITE_OK);
    memcpy(seen, hdr, sizeof seen);
    cr_assert_eq(ptmSqlShmCopy(&v, st.st_size, regions, 2, seen, 1, hdr), PTM_SQL_SHM_GROWN);
    cr_assert_neq(memcmp(seen, hdr, sizeof seen), 0);
    assertCopyIsFile(fd, regions, 2);
    /* A restart: new salts, the frames start again: whole. */
    cr_assert_eq(run(hostDb, "PRAGMA wal_checkpoint(RESTART);"
                             "UPDATE accounts SET balance=1 WHERE id=1"), SQLITE_OK);
    memcpy(seen, hdr, sizeof seen);
    cr_assert_eq(ptmSqlShmCopy(&v, st.st_size, regions, 2, seen, 1, hdr), PTM_SQL_SHM_WHOLE);
    cr_assert_neq(memcmp(seen + 32, hdr + 32, 8), 0, "the salts did not change");
    assertCopyIsFile(fd, regions, 2);

    ptmSqlShmViewUnmap(&v);
    cr_assert_null(v.base);
    close(fd);
    free(regions[0]);
    free(regions[1]);
}

/* A header SQLite would not accept: copies that differ, not initialised,
** a wrong checksum.  The copy is then taken whole, as the file is, for
** SQLite's own recovery path. */
Test(sqlite_wal, torn_headers_are_not_believed, .init = setup, .fini = teardown)
{
    const char *path = makeWalDb(3);
    char shm[256];
    unsigned char real[PTM_SQL_SHM_HDR], h[PTM_SQL_SHM_HDR];
    struct ptmSqlShmView v = {0};
    void *regions[1] = {calloc(1, REGION)};
    int fd;

    snprintf(shm, sizeof shm, "%s-shm", path);
    fd = open(shm, O_RDONLY);
    cr_assert_eq(pread(fd, real, sizeof real, 0), (ssize_t)sizeof real);
    close(fd);
    cr_assert(ptmSqlShmHeaderValid(real));
    memcpy(h, real, sizeof h);
    h[48 + 8] ^= 1; /* the second copy's iChange */
    cr_assert_not(ptmSqlShmHeaderValid(h));
    memcpy(h, real, sizeof h);
    h[12] = h[48 + 12] = 0;
    cr_assert_not(ptmSqlShmHeaderValid(h));
    memcpy(h, real, sizeof h);
    h[40] ^= 1;
    h[48 + 40] ^= 1;
    cr_assert_not(ptmSqlShmHeaderValid(h), "a wrong checksum");
    cr_assert_eq(ptmSqlWalCommittedEnd(h), ptmSqlWalCommittedEnd(real),
                 "the committed end needs equal copies only");
    h[48 + 16] ^= 1;
    cr_assert_eq(ptmSqlWalCommittedEnd(h), INT64_MAX);

    /* A torn header in a file: taken as it is. */
    const char *fake = at("fake-shm");
    fd = open(fake, O_RDWR | O_CREAT, 0600);
    cr_assert_eq(ftruncate(fd, REGION), 0);
    memcpy(h, real, sizeof h);
    h[48 + 8] ^= 1;
    cr_assert_eq(pwrite(fd, h, sizeof h, 0), (ssize_t)sizeof h);
    cr_assert_eq(ptmSqlShmViewMap(&v, fd, 1, 1, REGION), 0);
    cr_assert_eq(ptmSqlShmCopy(&v, REGION, regions, 1, real, 1, h), PTM_SQL_SHM_WHOLE);
    cr_assert_eq(((unsigned char *)regions[0])[48 + 8], real[8] ^ 1);
    ptmSqlShmViewUnmap(&v);
    close(fd);
    free(regions[0]);
}

/* A -shm shorter than the regions mapped (SQLite truncates it to 3 bytes
** when a new session's first connection opens it): the copy never reads
** the mapping past the size it is given, and what lies past it is zeros. */
Test(sqlite_wal, a_short_shm_is_read_to_its_end_only, .init = setup, .fini = teardown)
{
    const char *fake = at("short-shm");
    struct ptmSqlShmView v = {0};
    unsigned char hdr[PTM_SQL_SHM_HDR];
    void *regions[2] = {malloc(REGION), malloc(REGION)};
    int fd = open(fake, O_RDWR | O_CREAT, 0600);

    cr_assert_eq(pwrite(fd, "abc", 3, 0), 3);
    memset(regions[0], 0x77, REGION);
    memset(regions[1], 0x77, REGION);
    cr_assert_eq(ptmSqlShmViewMap(&v, fd, 2, 2, 2 * REGION), 0);
    cr_assert_eq(ptmSqlShmCopy(&v, 3, regions, 2, NULL, 1, hdr), PTM_SQL_SHM_WHOLE);
    cr_assert_eq(memcmp(regions[0], "abc", 3), 0);
    for (size_t i = 3; i < REGION; i++)
        cr_assert_eq(((unsigned char *)regions[0])[i], 0);
    for (size_t i = 0; i < REGION; i++)
        cr_assert_eq(((unsigned char *)regions[1])[i], 0);
    cr_assert_eq(ptmSqlShmCopy(&v, 3, regions, 3, NULL, 1, hdr), PTM_SQL_SHM_NONE,
                 "more regions than mapped");
    ptmSqlShmViewUnmap(&v);
    close(fd);
    free(regions[0]);
    free(regions[1]);
}

/* ---- through the overlay ---- */

static struct ptmSqlOverlay *overlay(const char *path)
{
    struct ptmSqlOverlay *o;
    cr_assert_eq(ptmSqlOverlayOpen(path, &o), SQLITE_OK);
    ptmSqlOverlaySetCall(o, PTM_CALL_fcntl);
    return o;
}

/* What the accounts are, as one number. */
#define DIGEST "SELECT coalesce(sum(balance * id), 0) * 1000 + count(*) FROM accounts"

/* One mirror: a new start (Leave, Enter), Begin, the digest, End.  Also,
** every other time, a write of the mirror's own (which the copy of the
** index then holds). */
static long long mirrorDigest(struct ptmSqlOverlay *o, int write)
{
    sqlite3 *db = ptmSqlOverlayDb(o);
    long long v;

    ptmMirrorLeave(&mirror);
    ptmRingReset(ring);
    ptmMirrorEnter(&mirror, ring);
    cr_assert_eq(ptmSqlOverlayBegin(o, PTM_SQL_BUSY_GO_ON), SQLITE_OK);
    v = queryInt(db, DIGEST);
    if (write) {
        cr_assert_eq(run(db, "INSERT INTO accounts VALUES(NULL, 5)"), SQLITE_OK,
                     "%s", sqlite3_errmsg(db));
        cr_assert_eq(queryInt(db, DIGEST), v + 1 + 5 * 1000 * queryInt(db, "SELECT max(id) FROM accounts"));
    }
    ptmSqlOverlayEnd(o);
    return v;
}

static void *refusedMmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    (void)addr, (void)len, (void)prot, (void)flags, (void)fd, (void)off;
    errno = EPERM;
    return MAP_FAILED;
}

/* Every way the database changes between two mirrors, in a seeded random
** order, 400 times: the mirror sees what the host sees; with the mapping,
** and with pread where mmap is refused. */
static void everyChangeIsSeen(int mapped)
{
    const char *path = makeWalDb(50);
    struct ptmSqlOverlay *o = overlay(path);
    sqlite3 *other;
    unsigned seed = 12345;
    int kinds[9] = {0};

    if (!mapped)
        ptmOs.mmap = refusedMmap;
    cr_assert_eq(sqlite3_open(path, &other), SQLITE_OK);
    for (int i = 0; i < 400; i++) {
        char sql[160];
        seed = seed * 1103515245u + 12345u;
        int kind = (int)((seed >> 16) % 9), id = 1 + (int)((seed >> 8) % 60);
        kinds[kind]++;
        switch (kind) {
        case 0: case 1: /* a commit of the host's */
            snprintf(sql, sizeof sql, "UPDATE accounts SET balance=balance+%d WHERE id=%d", i, id);
            cr_assert_eq(run(hostDb, sql), SQLITE_OK);
            break;
        case 2: /* another connection's */
            snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO accounts VALUES(%d, %d)", id, i);
            cr_assert_eq(run(other, sql), SQLITE_OK, "%s", sqlite3_errmsg(other));
            break;
        case 3:
            cr_assert_eq(run(hostDb, "PRAGMA wal_checkpoint(PASSIVE)"), SQLITE_OK);
            break;
        case 4: /* a restart: the next commit writes under new salts */
            cr_assert_eq(run(hostDb, "PRAGMA wal_checkpoint(RESTART)"), SQLITE_OK);
            snprintf(sql, sizeof sql, "DELETE FROM accounts WHERE id=%d", id);
            cr_assert_eq(run(hostDb, sql), SQLITE_OK);
            break;
        case 5:
            cr_assert_eq(run(hostDb, "PRAGMA wal_checkpoint(TRUNCATE)"), SQLITE_OK);
            snprintf(sql, sizeof sql, "UPDATE accounts SET balance=%d WHERE id=%d", -i, id);
            cr_assert_eq(run(hostDb, sql), SQLITE_OK);
            break;
        case 6:
            cr_assert_eq(run(hostDb, "VACUUM"), SQLITE_OK, "%s", sqlite3_errmsg(hostDb));
            break;
        case 7: /* every connection closed (-wal, -shm deleted), a new session */
            sqlite3_close(other);
            sqlite3_close(hostDb);
            cr_assert_eq(sqlite3_open(path, &hostDb), SQLITE_OK);
            cr_assert_eq(sqlite3_open(path, &other), SQLITE_OK);
            cr_assert_eq(run(hostDb, "PRAGMA wal_autocheckpoint=0"), SQLITE_OK);
            snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO accounts VALUES(%d, 7)", id);
            cr_assert_eq(run(other, sql), SQLITE_OK);
            break;
        default: /* nothing */
            break;
        }
        long long want = queryInt(hostDb, DIGEST);
        cr_assert_eq(mirrorDigest(o, i % 2), want, "step %d (kind %d)", i, kind);
        cr_assert_eq(queryInt(hostDb, DIGEST), want, "the mirror changed the database");
    }
    for (int k = 0; k < 8; k++)
        cr_assert_gt(kinds[k], 10, "kind %d ran %d times only", k, kinds[k]);
    sqlite3_close(other);
}

Test(sqlite_wal, every_change_between_mirrors_is_seen, .init = setup, .fini = teardown,
     .timeout = 120)
{
    everyChangeIsSeen(1);
}

Test(sqlite_wal, every_change_between_mirrors_is_seen_without_the_mapping, .init = setup,
     .fini = teardown, .timeout = 120)
{
    everyChangeIsSeen(0);
}

/* A writer that left its -wal and -shm behind (it died). */
static const char *abandonedWalDb(void)
{
    const char *path = at("left.db");
    pid_t pid = fork();
    if (pid == 0) {
        sqlite3 *db;
        if (sqlite3_open(path, &db) != SQLITE_OK ||
            run(db, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;"
                    "CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER);"
                    "INSERT INTO accounts VALUES(1, 100),(2, 50)") != SQLITE_OK)
            _exit(1);
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return path;
}

/* The -shm cut to SQLite's 3 bytes between two mirrors: the next reads
** what is there (nothing past 3 bytes: a fresh index, recovered from the
** -wal) and gets the same rows. */
Test(sqlite_wal, a_shm_cut_short_between_mirrors, .init = setup, .fini = teardown)
{
    const char *path = abandonedWalDb();
    struct ptmSqlOverlay *o = overlay(path);
    char shm[256];

    snprintf(shm, sizeof shm, "%s-shm", path);
    cr_assert_eq(mirrorDigest(o, 0), 200 * 1000 + 2);
    cr_assert_eq(mirrorDigest(o, 0), 200 * 1000 + 2);
    cr_assert_eq(truncate(shm, 3), 0);
    cr_assert_eq(mirrorDigest(o, 0), 200 * 1000 + 2);
    cr_assert_eq(mirrorDigest(o, 1), 200 * 1000 + 2);
}

/* A fault inside the copy (the -shm shrank between the size Begin read and
** the copy: here a size that lies) in a mirror of the inline executor:
** the mirror ends as crashed, by SIGBUS, and the host goes on; the next
** mirror maps the file again and is right. */
static off_t lieAbout = -1;
static struct ptmSqlOverlay *faulting;

static int lyingFstat(int fd, struct stat *st)
{
    int rc = fstat(fd, st);
    if (rc == 0 && S_ISREG(st->st_mode) && st->st_size == 3 && lieAbout > 0)
        st->st_size = lieAbout;
    return rc;
}

static void mirrorBegins(void *frame)
{
    *(int *)frame = ptmSqlOverlayBegin(faulting, PTM_SQL_BUSY_GO_ON);
}

Test(sqlite_wal, a_fault_in_the_copy_is_a_crashed_inline_mirror, .init = setup, .fini = teardown)
{
    const char *path = abandonedWalDb();
    struct ptm_tx_desc d = {.abi = PTM_ABI_VERSION, .transaction_id = "wal.fault",
                            .function = "t", .frame_size = sizeof(int), .mirror = mirrorBegins};
    struct ptmMirrorRun r;
    char shm[256];
    int fr = -1;

    faulting = overlay(path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    cr_assert_eq(mirrorDigest(faulting, 0), 200 * 1000 + 2);
    ptmMirrorLeave(&mirror);
    cr_assert_eq(truncate(shm, 3), 0);
    lieAbout = REGION;
    ptmOs.fstat = lyingFstat;
    cr_assert_eq(ptmInlineRun(&d, &fr, 0, ring, &r), PTM_OK);
    cr_assert_eq(r.status, PTM_MS_CRASHED, "status %d", r.status);
    cr_assert_eq(r.signo, SIGBUS);
    cr_assert_eq(fr, -1, "Begin returned: the copy read only what the size allowed");
    cr_assert_null(ptmMirrorCurrent);
    ptmOsReset();
    ptmMirrorEnter(&mirror, ring);
    cr_assert_eq(mirrorDigest(faulting, 0), 200 * 1000 + 2);
    cr_assert_eq(mirrorDigest(faulting, 1), 200 * 1000 + 2);
}
