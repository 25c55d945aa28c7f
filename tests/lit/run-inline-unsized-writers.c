// Library writers handed a local buffer with a length ptmcc did not check
// (memccpy, memfrob, bcopy, strfromd, gcvt, mbstowcs): an inline mirror
// "stored only into its locals", and the call wrote past the local into
// the mirror's frames on the host's stack (a dry run crashed the host
// with SIGSEGV).  Those with a length argument are now checked like
// memcpy (the mirror ends with an out_of_bounds event before the call
// writes); the others (gcvt's digits, mbstowcs's wide characters) make
// the mirror fork, also when the wide buffer's type is a typedef of
// wchar_t (wc, an array typedef wcs4) or an int array cast to wchar_t *,
// which were inline.  A pointer to one object (strtol's &end) stays inline.
// RUN: %ptmcc -Wall -Wextra -Werror -fno-stack-protector %s -o %t -lm
// RUN: %ptmcc --emit-source %s -o - | grep -v '^//' | grep -E 'ptm_tx_desc|inline_ok|mirror_reason' | FileCheck %s --check-prefix=MODES
// RUN: rm -f %t.trace
// RUN: env PTM_DRY_RUN=1 PTM_TRACE=%t.trace %t 200 | FileCheck %s
// RUN: grep -c '"mirror":"inline",[^{]*"mirror_status":"crashed"' %t.trace | FileCheck %s --check-prefix=CRASHES
// RUN: grep -c '"kind":"out_of_bounds"' %t.trace | FileCheck %s --check-prefix=CRASHES
// RUN: env PTM_DRY_RUN=1 %t 4 | FileCheck %s --check-prefix=FITS

#define _GNU_SOURCE
#include <ptm.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char big[256] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
static int n;

#define TX PTM_TRANSACTION(.success_criteria = return >= 0, .mirror = auto)
TX int copies_until(int x) { char b[4]; memccpy(b, big, 0, (size_t)n); return b[0] + x; }
TX int frobs(int x) { char b[4] = "abc"; memfrob(b, (size_t)n); return b[0] + x; }
TX int bcopies(int x) { char b[4]; bcopy(big, b, (size_t)n); return b[0] + x; }
TX int formats(int x) { char b[4]; strfromd(b, (size_t)n, "%.1f", 1.0); return b[0] + x; }
TX int digits(int x) { char b[4]; gcvt(1.5, x, b); return b[0]; }
TX int widens(int x) { wchar_t b[4]; mbstowcs(b, "ab", (size_t)n); return (int)b[0] + x; }
typedef wchar_t wc;
typedef wc wcs4[4];
TX int widens_wc(int x) { wc b[4]; mbstowcs(b, big, (size_t)n); return (int)b[0] + x; }
TX int widens_wcs4(int x) { wcs4 b; mbstowcs(b, big, (size_t)n); return (int)b[0] + x; }
TX int widens_int(int x) { int b[4]; mbstowcs((wchar_t *)b, big, (size_t)n); return b[0] + x; }
TX int ends(int x) { char *end; double e; int exp; e = frexp(strtod("8z", &end), &exp); return *end + exp + (int)e + x; }

int main(int argc, char **argv)
{
    n = argc > 1 ? atoi(argv[1]) : 4;
    printf("%d %d %d %d %d %d %d\n", copies_until(0) >= 0, frobs(0) >= 0, bcopies(0) >= 0,
           formats(0) >= 0, digits(1) >= 0, widens(0) >= 0, ends(0));
    printf("%d %d %d\n", widens_wc(0) >= 0, widens_wcs4(0) >= 0, widens_int(0) >= 0);
    printf("host ok\n");
    return 0;
}

// CHECK: host ok
// CRASHES: 4
// FITS: 1 1 1 1 1 1 126
// FITS: 1 1 1
// FITS: host ok

// MODES: copies_until__ptm_desc
// MODES-NEXT: .inline_ok = 1,
// MODES: frobs__ptm_desc
// MODES-NEXT: .inline_ok = 1,
// MODES: bcopies__ptm_desc
// MODES-NEXT: .inline_ok = 1,
// MODES: formats__ptm_desc
// MODES-NEXT: .inline_ok = 1,
// MODES: digits__ptm_desc
// MODES-NEXT: .mirror_reason = "digits: gcvt writes a local buffer as far as a length ptmcc cannot check at {{.*}}:35:35",
// MODES: widens__ptm_desc
// MODES-NEXT: .mirror_reason = "widens: mbstowcs writes a local buffer as far as a length ptmcc cannot check
// MODES: widens_wc__ptm_desc
// MODES-NEXT: .mirror_reason = "widens_wc: mbstowcs writes a local buffer as far as a length ptmcc cannot check
// MODES: widens_wcs4__ptm_desc
// MODES-NEXT: .mirror_reason = "widens_wcs4: mbstowcs writes a local buffer as far as a length ptmcc cannot check
// MODES: widens_int__ptm_desc
// MODES-NEXT: .mirror_reason = "widens_int: mbstowcs writes a local buffer as far as a length ptmcc cannot check
// MODES: ends__ptm_desc
// MODES-NEXT: .inline_ok = 1,
