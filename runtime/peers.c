/*
** peers.c - the other copies of libptm in this process.
**
** A shared object built by ptmcc carries its own libptm, hidden
** (ptmcc links it with --exclude-libs): its generated code runs on its own
** runtime, of the ABI it was generated for, whatever else the process has
** loaded.  A process may so hold several runtimes: a program built by
** ptmcc and its plugins, or a plain program and two libraries
** (docs/DESIGN.md §9 "Several runtimes in one process").  Each keeps its
** own state; the few things that are one per thread or per process are
** shared through this file:
**
**   - whether this thread runs a mirror (a fork mirror's child runs the
**     library's code as the program's mirror): a transaction of another
**     runtime then runs its primary once, as a plain build would;
**   - the jump scopes: a longjmp, through any runtime's longjmp, ends the
**     scopes it leaves of every runtime, innermost first;
**   - the signal handlers: each runtime's handler chains to what it
**     replaced, and a runtime that finds a peer's handler installed leaves
**     it (re-installing its own over it would make the two chain to each
**     other for ever);
**   - PTM_METRICS: each runtime's file holds every runtime's figures.
**
** How peers find each other without exporting a symbol (a RTLD_LOCAL
** dlopen would hide it anyway): every runtime has an ELF note "PTM",
** type PEER_NOTE_TYPE, whose 4-byte descriptor is the offset from itself
** to its struct ptmPeer (resolved when the module is linked: no
** relocation at run time).  dl_iterate_phdr walks the loaded objects'
** PT_NOTE segments.  Each runtime looks from a constructor (the loader
** runs constructors one module at a time) and adds itself to every peer it
** finds, so that later and earlier runtimes know each other.  A peer of
** another PTM_PEER_VERSION or a smaller struct is not used.  A runtime
** that has peers, or that has run a transaction (its threads, thread keys
** and atexit handlers point into it), marks its module RTLD_NODELETE: a
** dlclose then leaves it mapped, so no peer calls into unmapped code.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "ptm_int.h"

#define PEER_NOTE_TYPE 0x50544d01u /* "PTM" 1 */

/* The note: namesz 4, descsz 4, type, "PTM\0", the offset to ptmPeerSelf. */
__asm__(".pushsection .note.ptm.peer,\"aR\",@note\n"
        "\t.balign 4\n"
        "ptmPeerNote:\n"
        "\t.long 4\n"
        "\t.long 4\n"
        "\t.long 0x50544d01\n"
        "\t.asciz \"PTM\"\n"
        "ptmPeerNoteDesc:\n"
        "\t.long ptmPeerSelf - ptmPeerNoteDesc\n"
        "\t.popsection\n");

static int peerInMirror(void);
static void peerJoin(struct ptmPeer *p);

/* Filled in statically: a peer's constructor may call join before ours
** has run. */
struct ptmPeer ptmPeerSelf = {
    .version = PTM_PEER_VERSION,
    .size = sizeof(struct ptmPeer),
    .in_mirror = peerInMirror,
    .join = peerJoin,
};

#define MAX_PEERS 16
static _Atomic(struct ptmPeer *) peerList[MAX_PEERS];
static atomic_int peerPinned;

/* peerInMirror: whether this thread runs one of this runtime's mirrors. */
static int peerInMirror(void)
{
    return ptmMirrorCurrent != NULL;
}

/* peerUsable: whether p can be called: this version's layout. */
static int peerUsable(const struct ptmPeer *p)
{
    return p && p != &ptmPeerSelf && p->version == PTM_PEER_VERSION &&
           p->size >= sizeof(struct ptmPeer);
}

/* peerAdd: p joins this runtime's list (once). */
static void peerAdd(struct ptmPeer *p)
{
    for (int i = 0; i < MAX_PEERS; i++) {
        struct ptmPeer *cur = atomic_load(&peerList[i]);
        if (cur == p)
            return;
        if (!cur && atomic_compare_exchange_strong(&peerList[i], &cur, p))
            return;
        if (cur == p)
            return;
    }
}

/* peerJoin: another runtime announces itself (its constructor). */
static void peerJoin(struct ptmPeer *p)
{
    if (peerUsable(p)) {
        peerAdd(p);
        ptmPeerPin();
    }
}

/* peerFromNotes: the runtimes whose notes are in [p, end). */
static void peerFromNotes(const char *p, const char *end)
{
    while (end - p >= (ptrdiff_t)sizeof(Elf64_Nhdr)) {
        const Elf64_Nhdr *n = (const Elf64_Nhdr *)p;
        size_t namesz = ((size_t)n->n_namesz + 3) & ~(size_t)3;
        size_t descsz = ((size_t)n->n_descsz + 3) & ~(size_t)3;
        if (namesz + descsz > (size_t)(end - p) - sizeof *n)
            return; /* not a note this walk can read */
        const char *name = p + sizeof *n;
        const char *desc = name + namesz;
        const char *next = desc + descsz;
        if (n->n_type == PEER_NOTE_TYPE && n->n_namesz == 4 && memcmp(name, "PTM", 4) == 0 &&
            n->n_descsz == 4) {
            int32_t off;
            memcpy(&off, desc, sizeof off);
            struct ptmPeer *peer = (struct ptmPeer *)(uintptr_t)(desc + off);
            if (peerUsable(peer)) {
                peerAdd(peer);
                peer->join(&ptmPeerSelf);
            }
        }
        p = next;
    }
}

static int peerVisit(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE || ph->p_align > 4)
            continue;
        const char *at = (const char *)(info->dlpi_addr + ph->p_vaddr);
        peerFromNotes(at, at + ph->p_memsz);
    }
    return 0;
}

/* Before the constructors of default priority (the program's own may start
** a transaction), after pam.c's streams (101). */
__attribute__((constructor(102))) static void peerFind(void)
{
    dl_iterate_phdr(peerVisit, NULL);
    for (int i = 0; i < MAX_PEERS; i++)
        if (atomic_load(&peerList[i])) {
            ptmPeerPin();
            break;
        }
}

/*
** ptmPeerPin: marks the module this runtime is in RTLD_NODELETE, once: a
** dlclose then leaves it loaded.  Nothing for the main program.
*/
void ptmPeerPin(void)
{
    if (atomic_exchange(&peerPinned, 1))
        return;
    Dl_info info;
    if (!dladdr(&ptmPeerSelf, &info) || !info.dli_fname || !info.dli_fname[0])
        return;
    void *main = dlopen(NULL, RTLD_LAZY | RTLD_NOLOAD);
    struct link_map *lm = NULL;
    if (main && dlinfo(main, RTLD_DI_LINKMAP, &lm) == 0 && lm &&
        (void *)lm->l_addr == info.dli_fbase)
        return; /* the program itself */
    /* The handle stays open: it is what keeps the module. */
    (void)dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
}

/*
** ptmPeerNext: the peers' iteration: *i starts at 0.  Returns the next
** usable peer, or NULL at the end.
*/
struct ptmPeer *ptmPeerNext(int *i)
{
    while (*i < MAX_PEERS) {
        struct ptmPeer *p = atomic_load(&peerList[(*i)++]);
        if (!p)
            return NULL;
        if (peerUsable(p))
            return p;
    }
    return NULL;
}

/*
** ptmPeerInMirror: whether another runtime runs a mirror on this thread
** (this process may be its fork mirror's child).
*/
int ptmPeerInMirror(void)
{
    struct ptmPeer *p;
    for (int i = 0; (p = ptmPeerNext(&i)) != NULL;)
        if (p->in_mirror && p->in_mirror())
            return 1;
    return 0;
}

/*
** ptmPeerIsHandler: whether fn is another runtime's signal handler.
*/
int ptmPeerIsHandler(void (*fn)(int, siginfo_t *, void *))
{
    struct ptmPeer *p;
    for (int i = 0; (p = ptmPeerNext(&i)) != NULL;)
        if (fn && atomic_load(&p->on_signal) == fn)
            return 1;
    return 0;
}
