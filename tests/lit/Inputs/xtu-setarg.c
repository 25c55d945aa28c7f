/* A unit whose buffered clone the backend rejects: SETARG_B expands its
** argument twice, on both sides of an assignment (Lua's lcode.c). */
#define MASK1(n, p) ((~((~(unsigned)0) << (n))) << (p))
#define MASK0(n, p) (~MASK1(n, p))
#define setarg(i, v, pos, size) \
    ((i) = (((i)&MASK0(size, pos)) | (((unsigned)(v) << pos) & ~MASK0(size, pos))))
#define SETARG_B(i, v) setarg(i, v, 16, 8)

struct proto {
    unsigned *code;
};
struct fstate {
    struct proto *f;
    int pc;
};

void patch(struct fstate *fs, int v);

void patch(struct fstate *fs, int v)
{
    SETARG_B(fs->f->code[fs->pc - 1], v);
}
