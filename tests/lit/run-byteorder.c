// Byte-order helpers are pure: htons, htonl, htobe64 and their inverses,
// which glibc turns into static inline functions of its headers at -O2
// (__bswap_16, __uint64_identity), leave a mirror inline.
// RUN: %ptmcc -O0 -Wall -Wextra -Werror %s -o %t0 && %t0 | FileCheck %s
// RUN: %ptmcc -O2 -Wall -Wextra -Werror %s -o %t2 && %t2 | FileCheck %s

#include <arpa/inet.h>
#include <endian.h>
#include <ptm.h>
#include <stdint.h>
#include <stdio.h>
struct hdr { uint16_t port; uint32_t addr; uint64_t seq; };
static struct hdr wire;
PTM_TRANSACTION(.success_criteria = return == 0, .mirror = inline)
int pack(uint16_t port, uint32_t addr, uint64_t seq)
{
    wire.port = htons(port);
    wire.addr = htonl(addr);
    wire.seq = htobe64(seq);
    return ntohs(wire.port) == port && ntohl(wire.addr) == addr && be64toh(wire.seq) == seq ? 0 : 1;
}
int main(void)
{
    int r = pack(8080, 0x7f000001u, 42);
    printf("%d %04x\n", r, wire.port);
    return r;
}

// CHECK: 0 901f
