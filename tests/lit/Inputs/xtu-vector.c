/* A unit whose buffered clone the backend rejects: the rewrite takes the
** address of a vector's element (&(p->lanes[1])), which C does not allow. */
typedef int v4 __attribute__((vector_size(16)));
struct proto {
    v4 lanes;
};

int patch(struct proto *p, int v);

int patch(struct proto *p, int v)
{
    p->lanes[1] = v;
    return p->lanes[1];
}
