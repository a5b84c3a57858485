/*
 * desk/desk_ops.h -- the desk as the core sees it (core/domain.h): the
 * registrar a program adds to its runtime so plugins change tickets through
 * the desk's rules (host->ticket_update).
 */
#ifndef ATUM_DESK_DESK_OPS_H
#define ATUM_DESK_DESK_OPS_H

struct runtime;

/* The registrar (core/runtime.h): fills rt->domain. */
int desk_register(struct runtime *rt, void *arg, const char **error_r);

#endif
