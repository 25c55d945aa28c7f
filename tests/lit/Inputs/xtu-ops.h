/* The other files of xtu-pointer.c: operations called through pointers. */
typedef int (*xtu_op)(int);
extern int ops_calls;
xtu_op ops_lookup(const char *name);
