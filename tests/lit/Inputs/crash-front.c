/* A fault inside ptmcc's front end, for driver-front-crash.c: preloaded,
** this takes the place of the libclang function the front end calls first
** on a parsed unit, and faults. */
void clang_getTranslationUnitCursor(void *tu);
void clang_getTranslationUnitCursor(void *tu)
{
    (void)tu;
    *(volatile int *)0 = 1;
}
