/* dispatch.h: how an interpreter loop of this build dispatches: by
 * computed goto (one indirect jump at the end of every handler) where the
 * compiler has labels as values (GCC, Clang: __GNUC__), else by a switch;
 * -DPCR_DISPATCH_SWITCH forces the switch. The VM (vm.c) and the record
 * reader's member loop (rec.c, fast_members) dispatch so; make test builds
 * both ways and checks they decide alike (tests/dispatch/run.sh). */
#ifndef PCR_DISPATCH_H
#define PCR_DISPATCH_H

#if !defined(PCR_DISPATCH_SWITCH) && defined(__GNUC__)
#define PCR_COMPUTED_GOTO 1
#endif

#endif
