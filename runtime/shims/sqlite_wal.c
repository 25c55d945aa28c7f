/*
** shims/sqlite_wal.c - the real -shm read through a read-only shared
** mapping, and the overlay's private copy of the WAL index brought up to
** date from it (sqlite_int.h's sqlite_wal.c section).
**
** A mirror begins by copying the WAL index.  Through the mapping that is
** a memcpy, not a pread of a whole 32 KiB region, and only what moved is
** copied: nothing when the header is the one copied last, else the header,
** the page numbers of the frames appended since and the hash tables of the
** regions they went to, while the WAL's generation (its salt) is the same;
** everything when it is not, or when SQLite wrote into the copy since.
** Committed frames' page numbers never change within a generation (SQLite
** rewrites only frames of a transaction not yet committed), so the
** entries copied before stay true; the hash slots are copied whole because
** where a new frame's slot lands is SQLite's business.  What is copied
** while a writer writes may be ahead of the header (ignored: SQLite looks
** only at frames up to the header's mxFrame) or of another generation (a
** restart between the header's copy and the rest): End's check of the
** header, as with a pread, then makes the mirror inconclusive.
**
** The header is taken as SQLite's readers take it: the two copies equal,
** initialised, their checksum right; a few tries while a writer is
** between its two writes of it, after which the copy is taken as it is
** and SQLite's own check of it runs its recovery path (with the overlay's
** lock probes) as it did when the copy was read with pread.
**
** Faults: a page of the mapping past the end of the file raises SIGBUS.
** The copy reads only below the size the caller just saw (fstat), and only
** inside a mirror (ptmSqlOverlayBegin): a file truncated between the two
** (SQLite truncates a -shm only when the first connection of a new session
** opens it) faults there, and the mirror's crash handling ends the mirror
** as crashed (exec_inline.c, fork_child.c); the overlay then remaps at its
** next Begin.  End, which runs after the mirror's crash handling is off,
** reads the header with pread, never through the mapping.
*/
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "sqlite_int.h"

#define REGION PTM_SQL_SHM_REGION
#define HDR PTM_SQL_SHM_HDR
#define HDR_ONE 48                  /* one WalIndexHdr */
#define HDR_CKSUM 40                /* its bytes under aCksum */
#define NPAGE 4096                  /* HASHTABLE_NPAGE: frames of a region */
#define NPAGE_ONE (NPAGE - HDR / 4) /* HASHTABLE_NPAGE_ONE: of region 0 */
#define HASH_AT (NPAGE * 4)         /* a region's hash slots start here */
#define HEADER_TRIES 8
#define WAL_FILE_HDR 32             /* the -wal's own header */
#define WAL_FRAME_HDR 24            /* before each page in the -wal */

/* ptmSqlShmViewMap: see sqlite_int.h. */
int ptmSqlShmViewMap(struct ptmSqlShmView *v, int fd, dev_t dev, ino_t ino, size_t len)
{
    void *p;

    if (v->base && v->dev == dev && v->ino == ino && v->len >= len)
        return 0;
    ptmSqlShmViewUnmap(v);
    p = ptmOs.mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return -1;
    v->base = p;
    v->len = len;
    v->dev = dev;
    v->ino = ino;
    return 0;
}

/* ptmSqlShmViewUnmap: see sqlite_int.h.  A mapping the fork executor's
** child may not unmap (sealed) is left where it is: the child is short-lived. */
void ptmSqlShmViewUnmap(struct ptmSqlShmView *v)
{
    if (v->base)
        ptmOs.munmap((void *)v->base, v->len);
    v->base = NULL;
    v->len = 0;
    v->dev = 0;
    v->ino = 0;
}

/* readAcross: n bytes at off of the mapping, as they are now, into out;
** the fences order them against the reads before and after, as SQLite's
** walShmBarrier does its readers'. */
static void readAcross(const struct ptmSqlShmView *v, size_t off, void *out, size_t n)
{
    atomic_thread_fence(memory_order_seq_cst);
    memcpy(out, v->base + off, n);
    atomic_thread_fence(memory_order_seq_cst);
}

/* cksum: SQLite's walChecksumBytes over the first n bytes of a (n a
** multiple of 8), native or byte-swapped.  OUT: out[2]. */
static void cksum(int native, const unsigned char *a, size_t n, uint32_t out[2])
{
    uint32_t s1 = 0, s2 = 0;

    for (size_t i = 0; i < n; i += 8) {
        uint32_t x, y;
        memcpy(&x, a + i, 4);
        memcpy(&y, a + i + 4, 4);
        if (!native) {
            x = __builtin_bswap32(x);
            y = __builtin_bswap32(y);
        }
        s1 += x + s2;
        s2 += y + s1;
    }
    out[0] = s1;
    out[1] = s2;
}

/* ptmSqlShmHeaderValid: see sqlite_int.h. */
int ptmSqlShmHeaderValid(const unsigned char *h)
{
    uint32_t want[2], got[2];
    int native;

    if (memcmp(h, h + HDR_ONE, HDR_ONE) != 0 || !h[12])
        return 0;
    native = h[13] == (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__);
    cksum(native, h, HDR_CKSUM, want);
    memcpy(got, h + HDR_CKSUM, sizeof got);
    return want[0] == got[0] && want[1] == got[1];
}

/* u32At: the native 32-bit word at p (the WAL index is in native order). */
static uint32_t u32At(const unsigned char *p)
{
    uint32_t x;
    memcpy(&x, p, 4);
    return x;
}

/* framePage: the region that holds frame f's entries (SQLite's walFramePage). */
static int framePage(uint32_t f)
{
    return (int)((f + NPAGE - NPAGE_ONE - 1) / NPAGE);
}

/* copyRange: bytes [from, to) of region i from the mapping, where they
** exist (below size); zeros past it. */
static void copyRange(const struct ptmSqlShmView *v, off_t size, void *const *regions, int i,
                      size_t from, size_t to)
{
    off_t at = (off_t)i * REGION;
    size_t have = size <= at + (off_t)from ? 0
                  : size >= at + (off_t)to ? to - from
                                           : (size_t)(size - at) - from;

    if (have)
        memcpy((unsigned char *)regions[i] + from, v->base + at + from, have);
    if (have < to - from)
        memset((unsigned char *)regions[i] + from + have, 0, to - from - have);
}

/* ptmSqlShmCopy: see sqlite_int.h. */
enum ptmSqlShmCopied ptmSqlShmCopy(const struct ptmSqlShmView *v, off_t size, void *const *regions,
                                   int n, const unsigned char *last, int intact,
                                   unsigned char hdr[PTM_SQL_SHM_HDR])
{
    int valid = 0, i;
    uint32_t was_mx, mx;

    if (n < 1 || (size_t)n * REGION > v->len)
        return PTM_SQL_SHM_NONE;
    if (size < HDR) {
        for (i = 0; i < n; i++)
            copyRange(v, size, regions, i, 0, REGION);
        memcpy(hdr, regions[0], HDR);
        return PTM_SQL_SHM_WHOLE;
    }
    for (i = 0; i < HEADER_TRIES && !valid; i++) {
        readAcross(v, 0, hdr, HDR);
        valid = ptmSqlShmHeaderValid(hdr);
    }
    if (valid && intact && last && memcmp(hdr, last, PTM_SQL_SHM_SEEN) == 0)
        return PTM_SQL_SHM_SAME;
    was_mx = last ? u32At(last + 16) : 0;
    mx = u32At(hdr + 16);
    if (valid && intact && last && ptmSqlShmHeaderValid(last) &&
        memcmp(hdr + 32, last + 32, 8) == 0 && mx >= was_mx) {
        /* The same generation, grown: the new frames' entries and the hash
        ** slots of their regions. */
        int first = framePage(was_mx + 1), end = mx > was_mx ? framePage(mx) : first - 1;
        for (i = first; i <= end && i < n; i++) {
            uint32_t zero = i == 0 ? 0 : NPAGE_ONE + (uint32_t)(i - 1) * NPAGE;
            size_t base = i == 0 ? HDR : 0;
            uint32_t lo = was_mx > zero ? was_mx - zero : 0, hi = mx - zero;
            if (hi > (i == 0 ? NPAGE_ONE : NPAGE))
                hi = i == 0 ? NPAGE_ONE : NPAGE;
            copyRange(v, size, regions, i, base + 4 * (size_t)lo, base + 4 * (size_t)hi);
            copyRange(v, size, regions, i, HASH_AT, REGION);
        }
        memcpy(regions[0], hdr, HDR);
        return PTM_SQL_SHM_GROWN;
    }
    for (i = 0; i < n; i++)
        copyRange(v, size, regions, i, 0, REGION);
    if (valid)
        memcpy(regions[0], hdr, HDR); /* the header checked, not a later one */
    else
        memcpy(hdr, regions[0], HDR);
    return PTM_SQL_SHM_WHOLE;
}

/* ptmSqlWalCommittedEnd: see sqlite_int.h.  Only a header whose two
** copies agree is believed (a torn one: SQLite recovers from the file). */
sqlite3_int64 ptmSqlWalCommittedEnd(const unsigned char *h)
{
    uint16_t sz;
    uint32_t mx;
    sqlite3_int64 page;

    if (memcmp(h, h + HDR_ONE, HDR_ONE) != 0 || !h[12])
        return INT64_MAX;
    memcpy(&sz, h + 14, sizeof sz);
    memcpy(&mx, h + 16, sizeof mx);
    page = sz == 1 ? 65536 : sz;
    if (page < 512)
        return INT64_MAX;
    return WAL_FILE_HDR + (sqlite3_int64)mx * (page + WAL_FRAME_HDR);
}
