/* Included by driver-deps.c: a dependency of its object. */
#define DEPS_BASE 40
