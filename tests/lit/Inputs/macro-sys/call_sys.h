/* A system header's macro (included with -isystem): its body is never
** redefined for a clone. */
#define SYS_CALL1(f) ((*(f))(1))
