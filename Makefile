# PCR: make builds bin/pcrc, bin/pcrvm, bin/pcrvm-serve and lib/libpcr.a
# (make shared: lib/libpcr.so).
#   make demo    compile the example policy and evaluate the example batch
#   make test    unit, golden and end-to-end tests (Criterion), pcrvm under GNU parallel
#   make bench   throughput and compile-time benchmarks
#   make bench-peers  pcrvm beside Node.js, LuaJIT and jq (../shared/peers)
#   make san     the test suite under ASan + UBSan (+ LSan), assertions on
#   make test-pg the PostgreSQL extension in a throwaway cluster (docs/postgres.md)
#   make bench-pg  its throughput with 0 and 2 parallel workers, beside pcrvm
#   make bench-feed  the fed route beside the text reader, in instructions (callgrind)
#   make bench-compare BASE=REV  pcrvm beside the build of revision REV, side by side
#   make test-editors   the tree-sitter grammar and Vim syntax against the sources
#   make install PREFIX=/usr/local [DESTDIR=]   tools, libraries, header,
#                pcr.pc, the standard library and man pages; make uninstall
# Missing flex, bison or Criterion are installed with apt-get when possible.

CC      ?= cc
OPT     ?= -O2 -g -DNDEBUG
BUILD   ?= build
OUT     ?= .
XCFLAGS ?=
XLDFLAGS ?=

STD      = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS = -Iinclude -Isrc -I$(BUILD)/gen
CFLAGS   = $(STD) $(OPT) $(XCFLAGS)
LDFLAGS  = $(XLDFLAGS) -pthread

SRCS     = $(sort $(wildcard src/*.c))
OBJS     = $(SRCS:src/%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/parser.o $(BUILD)/obj/lexer.o
LIB      = $(OUT)/lib/libpcr.a
PCRC     = $(OUT)/bin/pcrc
PCRVM    = $(OUT)/bin/pcrvm
PCRVM_SERVE = $(OUT)/bin/pcrvm-serve
TOOLS    = $(PCRC) $(PCRVM) $(PCRVM_SERVE)
LIB_LIBS = -lcsv   # what the library needs (src/csv.c: libcsv)
# pcrvm is linked with link-time optimization where $(CC) can do it
# (LTO=yes; probed once, LTO= turns it off): from a second tree of the
# library's objects, $(BUILD)/lto/obj, compiled with LTO_FLAGS and
# optimized as one program at its link, so that calls from one module
# into another on every record's path (the reader, the VM, the writer)
# can be inlined. pcrc, pcrvm-serve, lib/libpcr.a and the tests keep the
# plain objects (each LTO link takes seconds). The sanitizer, trace,
# fuzzing and PostgreSQL builds below pass LTO= (docs/benchmarks.md,
# "pcrvm linked with link-time optimization").
LTO_FLAGS = -flto=auto
ifeq ($(origin LTO),undefined)
LTO := $(shell printf 'int main(void) { return 0; }\n' | $(CC) $(LTO_FLAGS) -x c - -o /dev/null \
    > /dev/null 2>&1 && echo yes)
endif
ifeq ($(LTO),yes)
PCRVM_OBJS   = $(SRCS:src/%.c=$(BUILD)/lto/obj/%.o) $(BUILD)/lto/obj/parser.o $(BUILD)/lto/obj/lexer.o
PCRVM_CFLAGS = $(CFLAGS) $(LTO_FLAGS)
else
PCRVM_OBJS   = $(LIB)
PCRVM_CFLAGS = $(CFLAGS)
endif
TEST_SRCS = $(sort $(wildcard tests/unit/test_*.c))
TEST_BINS = $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps demo test test-soak unit e2e replay scale san tsan trace valgrind cppcheck bench bench-peers bench-compare bench-stream \
    dispatch-test clean pg-lib test-pg bench-pg bench-feed shared install uninstall test-install editor-keywords test-editors \
    serve-test crd-test bench-serve soak-serve
all: deps $(TOOLS) $(LIB)

# ---- dependencies --------------------------------------------------------
DEPS_STAMP = $(BUILD)/.deps-ok
deps: $(DEPS_STAMP)
$(DEPS_STAMP):
	@sh scripts/ensure-deps.sh
	@mkdir -p $(BUILD) && touch $@

# ---- generated front end (never committed) ------------------------------
$(BUILD)/gen/parser.c $(BUILD)/gen/parser.h: grammar/parser.y | $(DEPS_STAMP)
	@mkdir -p $(BUILD)/gen
	bison -Wall -Werror --defines=$(BUILD)/gen/parser.h -o $(BUILD)/gen/parser.c $<

$(BUILD)/gen/lexer.c $(BUILD)/gen/lexer.h: grammar/lexer.l | $(DEPS_STAMP)
	@mkdir -p $(BUILD)/gen
	flex --header-file=$(BUILD)/gen/lexer.h -o $(BUILD)/gen/lexer.c $<

# Generated code is not ours to keep warning-clean.
GEN_CFLAGS = $(STD) $(OPT) $(XCFLAGS) -w

# obj_rules DIR,FLAGS: the rules that compile the library's objects,
# generated parser and lexer included, into DIR/obj with FLAGS added. The
# plain tree, pcrvm's link-time-optimized tree and the shared library's
# position-independent tree ($(PIC), below) differ in nothing else.
define obj_rules
$(1)/obj/%.o: src/%.c $$(BUILD)/gen/parser.h $$(BUILD)/gen/lexer.h
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CPPFLAGS) $$(CFLAGS) $(2) $$(WARN) -MMD -MP -c $$< -o $$@
$(1)/obj/parser.o: $$(BUILD)/gen/parser.c $$(BUILD)/gen/lexer.h
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CPPFLAGS) $$(GEN_CFLAGS) $(2) -c $$< -o $$@
$(1)/obj/lexer.o: $$(BUILD)/gen/lexer.c $$(BUILD)/gen/parser.h
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CPPFLAGS) $$(GEN_CFLAGS) $(2) -c $$< -o $$@
endef

# ---- library and tools --------------------------------------------------
$(eval $(call obj_rules,$(BUILD),))
$(eval $(call obj_rules,$(BUILD)/lto,$(LTO_FLAGS)))

$(LIB): $(OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# The tools find the standard library at bin/../policies (docs/language.md,
# "Modules"): an out-of-tree OUT (build/san) gets a link to policies/, by a
# rule of its own, so that tools linked in parallel (make -j) do not race
# to make it (the loser's `ln -s` would put a link inside policies/).
$(OUT)/policies:
	@mkdir -p $(dir $@)
	ln -s $(CURDIR)/policies $@

$(OUT)/bin/%: tools/%.c $(LIB) | $(OUT)/policies
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $< $(LIB) $(LDFLAGS) $(LIB_LIBS) -o $@
$(PCRVM): tools/pcrvm.c $(PCRVM_OBJS) | $(OUT)/policies
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PCRVM_CFLAGS) $(WARN) $< $(PCRVM_OBJS) $(LDFLAGS) $(LIB_LIBS) -o $@

# The HTTP server (`pcrvm serve`, docs/serve.md) is a program of its own,
# pcrvm-serve, which `pcrvm serve` execs: its libraries (libmicrohttpd and
# what it pulls in, jansson, libcrypto) are outside the library, and pcrc
# and pcrvm, built by the rule above, link none of them, so they start
# faster. tests/serve/split.sh checks pcrvm needs none.
SERVE_SRCS = tools/serve.c tools/serve_accept.c tools/serve_auth.c tools/serve_gen.c tools/serve_metrics.c tools/crd.c
SERVE_LIBS = -lmicrohttpd -ljansson -lcrypto -lpthread $(LIB_LIBS)
SERVE_DEPS = tools/pcrvm-serve.c $(SERVE_SRCS) $(wildcard tools/*.h)
$(PCRVM_SERVE): $(SERVE_DEPS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) tools/pcrvm-serve.c $(SERVE_SRCS) $(LIB) $(LDFLAGS) $(SERVE_LIBS) -o $@

-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/lto/obj/*.d)

# The VM and the record reader's fast path dispatch by computed goto where
# the compiler can (src/vm.c, src/rec.c); this pcrvm is the same program
# with the switch dispatch (-DPCR_DISPATCH_SWITCH: only vm.o and rec.o
# differ, linked ahead of the library's). make test checks both decide
# byte for byte alike (tests/dispatch/run.sh), which needs no server.
SWITCH_DIR   = $(BUILD)/switch
SWITCH_PCRVM = $(SWITCH_DIR)/pcrvm
SWITCH_OBJS  = $(SWITCH_DIR)/vm.o $(SWITCH_DIR)/rec.o
$(SWITCH_DIR)/%.o: src/%.c $(BUILD)/gen/parser.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DPCR_DISPATCH_SWITCH $(WARN) -MMD -MP -c $< -o $@
$(SWITCH_PCRVM): tools/pcrvm.c $(SWITCH_OBJS) $(LIB)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) tools/pcrvm.c $(SWITCH_OBJS) $(LIB) $(LDFLAGS) $(LIB_LIBS) -o $@
-include $(wildcard $(SWITCH_DIR)/*.d)

# ---- shared library -------------------------------------------------------
# lib/libpcr.so.VERSION (soname libpcr.so.MAJOR) from its own tree of
# position-independent objects, $(BUILD)/pic; the default build's objects
# and flags are untouched. It exports only the functions of pcr.h (a
# version script generated from the header).
VERSION   := $(shell sed -n 's/^\#define PCR_VERSION "\(.*\)"/\1/p' include/pcr/pcr.h)
SO_MAJOR   = $(firstword $(subst ., ,$(VERSION)))
SONAME     = libpcr.so.$(SO_MAJOR)
SHLIB      = $(OUT)/lib/libpcr.so.$(VERSION)
PIC        = $(BUILD)/pic
PIC_OBJS   = $(SRCS:src/%.c=$(PIC)/obj/%.o) $(PIC)/obj/parser.o $(PIC)/obj/lexer.o

$(eval $(call obj_rules,$(PIC),-fPIC))

# The record reader is compiled without global common subexpression
# elimination (READER_CFLAGS, probed once; clang has no such flag), as
# GCC's manual advises for code that dispatches by computed goto: its
# member loop (fast_members) then runs 5% fewer instructions, and the
# payer batch took 2 to 9% less CPU time side by side. The VM, whose loop
# dispatches so too, was no faster (docs/benchmarks.md, fourth round).
ifeq ($(origin READER_CFLAGS),undefined)
READER_CFLAGS := $(shell $(CC) -fno-gcse -Werror -x c -c /dev/null -o /dev/null > /dev/null 2>&1 \
    && echo -fno-gcse)
endif
$(BUILD)/obj/rec.o $(BUILD)/lto/obj/rec.o $(PIC)/obj/rec.o: CFLAGS += $(READER_CFLAGS)

$(PIC)/libpcr.map: include/pcr/pcr.h
	@mkdir -p $(dir $@)
	{ echo '{ global:'; sed -n 's/^[a-z].*[ *]\(pcr_[a-z0-9_]*\)(.*/    \1;/p' $<; \
	  echo '  local: *; };'; } >$@

$(SHLIB): $(PIC_OBJS) $(PIC)/libpcr.map
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=$(PIC)/libpcr.map $(CFLAGS) \
	    $(PIC_OBJS) $(LDFLAGS) $(LIB_LIBS) -o $@
	ln -sf libpcr.so.$(VERSION) $(OUT)/lib/$(SONAME)
	ln -sf libpcr.so.$(VERSION) $(OUT)/lib/libpcr.so

shared: deps $(SHLIB)

-include $(wildcard $(PIC)/obj/*.d)

# ---- install ----------------------------------------------------------------
# GNU-style directories; DESTDIR stages the tree (packaging), PREFIX is what
# pcr.pc records. uninstall removes exactly the files install writes, then
# the directories that are PCR's own (include/pcr, share/pcr) when empty.
PREFIX     ?= /usr/local
DESTDIR    ?=
bindir     ?= $(PREFIX)/bin
libdir     ?= $(PREFIX)/lib
includedir ?= $(PREFIX)/include
datadir    ?= $(PREFIX)/share
mandir     ?= $(datadir)/man
pkgconfigdir ?= $(libdir)/pkgconfig
INSTALL    ?= install
STD_MODULES = $(sort $(wildcard policies/std/*.pcr))
MAN1        = man/pcrc.1 man/pcrvm.1
MAN5        = man/pcr.5

install: all $(SHLIB)
	$(INSTALL) -d $(DESTDIR)$(bindir) $(DESTDIR)$(libdir) $(DESTDIR)$(pkgconfigdir) \
	    $(DESTDIR)$(includedir)/pcr $(DESTDIR)$(datadir)/pcr/std \
	    $(DESTDIR)$(mandir)/man1 $(DESTDIR)$(mandir)/man5
	$(INSTALL) -m 755 $(PCRC) $(PCRVM) $(PCRVM_SERVE) $(DESTDIR)$(bindir)
	$(INSTALL) -m 644 $(LIB) $(SHLIB) $(DESTDIR)$(libdir)
	ln -sf libpcr.so.$(VERSION) $(DESTDIR)$(libdir)/$(SONAME)
	ln -sf libpcr.so.$(VERSION) $(DESTDIR)$(libdir)/libpcr.so
	$(INSTALL) -m 644 include/pcr/pcr.h $(DESTDIR)$(includedir)/pcr
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(libdir)|g' \
	    -e 's|@INCLUDEDIR@|$(includedir)|g' -e 's|@DATADIR@|$(datadir)|g' \
	    -e 's|@VERSION@|$(VERSION)|g' \
	    pcr.pc.in >$(DESTDIR)$(pkgconfigdir)/pcr.pc
	chmod 644 $(DESTDIR)$(pkgconfigdir)/pcr.pc
	$(INSTALL) -m 644 $(STD_MODULES) $(DESTDIR)$(datadir)/pcr/std
	$(INSTALL) -m 644 $(MAN1) $(DESTDIR)$(mandir)/man1
	ln -sf pcrvm.1 $(DESTDIR)$(mandir)/man1/pcrvm-serve.1
	$(INSTALL) -m 644 $(MAN5) $(DESTDIR)$(mandir)/man5

uninstall:
	rm -f $(DESTDIR)$(bindir)/pcrc $(DESTDIR)$(bindir)/pcrvm $(DESTDIR)$(bindir)/pcrvm-serve
	rm -f $(DESTDIR)$(libdir)/libpcr.a $(DESTDIR)$(libdir)/libpcr.so.$(VERSION) \
	    $(DESTDIR)$(libdir)/$(SONAME) $(DESTDIR)$(libdir)/libpcr.so
	rm -f $(DESTDIR)$(includedir)/pcr/pcr.h $(DESTDIR)$(pkgconfigdir)/pcr.pc
	rm -f $(STD_MODULES:policies/std/%=$(DESTDIR)$(datadir)/pcr/std/%)
	rm -f $(MAN1:man/%=$(DESTDIR)$(mandir)/man1/%) $(DESTDIR)$(mandir)/man1/pcrvm-serve.1 \
	    $(MAN5:man/%=$(DESTDIR)$(mandir)/man5/%)
	@for d in $(DESTDIR)$(includedir)/pcr $(DESTDIR)$(datadir)/pcr/std $(DESTDIR)$(datadir)/pcr; do \
	    if [ -d "$$d" ]; then rmdir "$$d" 2>/dev/null || echo "uninstall: kept $$d (not empty)"; fi; \
	done

# Installs into a temporary prefix (and a DESTDIR stage), builds a program
# against it with pkg-config, statically and shared, runs it, lints the man
# pages, uninstalls and checks nothing is left (tests/install/run.sh).
test-install: all $(SHLIB)
	@CC="$(CC)" MAKE="$(MAKE)" XLDFLAGS="$(XLDFLAGS)" XCFLAGS="$(XCFLAGS)" \
	    BUILD="$(BUILD)" OUT="$(OUT)" sh tests/install/run.sh

# ---- demo ---------------------------------------------------------------
# The four payers' policies, compiled to bytecode, over the reviewed batch.
PAYER_POLICIES = $(sort $(wildcard policies/*.pcr))
DEMO_BATCH     = policies/examples/requests.jsonl
demo: all
	@mkdir -p $(BUILD)/demo
	@for p in $(PAYER_POLICIES); do \
	    echo "$(PCRC) $$p -o $(BUILD)/demo/$$(basename $$p .pcr).pcrb"; \
	    $(PCRC) $$p -o $(BUILD)/demo/$$(basename $$p .pcr).pcrb || exit 1; done
	$(PCRVM) --stats $(PAYER_POLICIES:policies/%.pcr=$(BUILD)/demo/%.pcrb) $(DEMO_BATCH)

# ---- tests --------------------------------------------------------------
$(BUILD)/tests/%: tests/unit/%.c tests/unit/helpers.h tests/oracle/json_oracle.h $(LIB) $(TOOLS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit -Itests/oracle $(CFLAGS) $(WARN) -Wno-missing-prototypes $< $(LIB) \
	    $(LDFLAGS) $(LIB_LIBS) -lcriterion -ljansson -o $@

# The CRD mapping (tools/crd.c) is not in the library: its test links it.
$(BUILD)/tests/test_crd: tests/unit/test_crd.c tools/crd.c tools/crd.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itools $(CFLAGS) $(WARN) -Wno-missing-prototypes $< tools/crd.c $(LIB) \
	    $(LDFLAGS) $(LIB_LIBS) -lcriterion -ljansson -o $@

unit: $(TEST_BINS)
	@failed=""; for t in $(TEST_BINS); do \
	    echo "== $$t"; PCR_BIN=$(OUT)/bin PCR_ROOT=$(CURDIR) $$t --jobs 2 || failed="$$failed $$t"; \
	done; if [ -n "$$failed" ]; then echo "failing test binaries:$$failed"; exit 1; fi

e2e: $(TOOLS)
	@PCR_BIN=$(OUT)/bin sh tests/e2e/run.sh

# pcrvm split over several processes by GNU parallel, against one run
# (docs/scale.md); installs parallel when missing.
scale: $(TOOLS)
	@sh tests/scale/run.sh $(OUT)/bin

test: all unit e2e replay scale dispatch-test test-install editor-keywords serve-test crd-test

# The computed-goto and the switch pcrvm give byte-identical decisions.
dispatch-test: $(TOOLS) $(SWITCH_PCRVM)
	@CC="$(CC)" sh tests/dispatch/run.sh $(OUT)/bin $(SWITCH_PCRVM)

# The editor support (editors/, docs/editors.md): the keyword lists of the
# tree-sitter grammar and the Vim syntax file against grammar/lexer.l (part
# of make test); test-editors also loads the Vim file in vim and checks the
# tree-sitter grammar accepts every .pcr that pcrc parses (needs node).
editor-keywords:
	@sh tests/editors/keywords.sh
test-editors: $(PCRC)
	@PCR_BIN=$(OUT)/bin sh tests/editors/run.sh

# pcrvm serve over loopback HTTP (tests/serve/run.sh; needs curl), and
# the split of pcrvm and pcrvm-serve (tests/serve/split.sh).
serve-test: $(TOOLS)
	@PCR_BIN=$(OUT)/bin PCR_ROOT=$(CURDIR) bash tests/serve/run.sh
	@sh tests/serve/split.sh $(OUT)/bin

# The CRD service checked with HL7's FHIRPath engine (tests/crd/check.js;
# needs node, and the npm package fhirpath, installed into build/npm), and
# its authentication of the EHR and CORS (tests/crd/auth.js).
CRD_NPM = build/npm
crd-test: $(TOOLS)
	@sh scripts/ensure-node.sh $(CRD_NPM)
	@NODE_PATH=$(CRD_NPM)/node_modules node tests/crd/check.js $(OUT)/bin
	@NODE_PATH=$(CRD_NPM)/node_modules node tests/crd/auth.js $(OUT)/bin

# The same suite built with sanitizers, in its own build tree.
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# Every report is also written to build/san/reports (log_path), so one
# that a test swallows (a child whose exit status or stderr it does not
# check) still fails the run.
SAN_REPORTS = $(CURDIR)/build/san/reports
san:
	@rm -rf $(SAN_REPORTS) && mkdir -p $(SAN_REPORTS)
	ASAN_OPTIONS=log_path=$(SAN_REPORTS)/asan$${ASAN_OPTIONS:+:$$ASAN_OPTIONS} \
	UBSAN_OPTIONS=log_path=$(SAN_REPORTS)/ubsan:print_stacktrace=1$${UBSAN_OPTIONS:+:$$UBSAN_OPTIONS} \
	$(MAKE) test BUILD=build/san OUT=build/san OPT="-O1 -g" LTO= \
	    XCFLAGS="$(SAN_FLAGS)" XLDFLAGS="$(SAN_FLAGS)"
	@sh scripts/san-reports.sh $(SAN_REPORTS)

# pcrvm's threads (-j N) and the server's under ThreadSanitizer, through
# the CLI (tests/tsan.sh says what runs), in its own build tree.
TSAN_FLAGS = -fsanitize=thread
tsan: all
	$(MAKE) all BUILD=build/tsan OUT=build/tsan OPT="-O1 -g" LTO= \
	    XCFLAGS="$(TSAN_FLAGS)" XLDFLAGS="$(TSAN_FLAGS)"
	sh tests/tsan.sh build/tsan/bin $(OUT)/bin

# The soak run (not in CI): 1 GB of mixed good and malformed records
# through pcrvm -j 2 under ASan + UBSan (counts, order), then the normal
# build (peak RSS under 64 MiB). tests/soak.sh says more.
test-soak: all
	$(MAKE) all BUILD=build/san OUT=build/san OPT="-O1 -g" LTO= \
	    XCFLAGS="$(SAN_FLAGS)" XLDFLAGS="$(SAN_FLAGS)"
	sh tests/soak.sh build/san/bin $(OUT)/bin

# The trace build: pcrvm prints every rule it evaluates and every
# instruction with the stack to stderr (build/trace/bin/pcrvm).
trace:
	$(MAKE) all BUILD=build/trace OUT=build/trace OPT="-O0 -g" LTO= XCFLAGS="-DPCR_TRACE"

# The end-to-end paths under valgrind memcheck, and cppcheck over the
# hand-written sources; both fail on any report.
valgrind: all
	sh tests/valgrind.sh $(OUT)/bin
cppcheck:
	sh scripts/cppcheck.sh

# ---- benchmarks ---------------------------------------------------------
bench: all
	sh bench/run.sh $(OUT)/bin

# The peer benchmark (../shared/peers): pcrvm against the Node.js and
# LuaJIT implementations and jq, on the same records; checks they agree.
bench-peers: all
	sh bench/peers.sh $(OUT)/bin

# pcrvm side by side with the pcrvm of git revision BASE, alternated on
# the same batches, in CPU time (bench/compare.sh):
#   make bench-compare BASE=HEAD~1
bench-compare: all
	@[ -n "$(BASE)" ] || { echo "usage: make bench-compare BASE=<git revision>" >&2; exit 2; }
	sh bench/compare.sh "$(BASE)" $(OUT)/bin

# A 5 GB batch streamed through pcrvm: throughput and peak memory.
bench-stream: all
	sh bench/stream.sh $(OUT)/bin

# ---- PostgreSQL extension (ext/postgres, docs/postgres.md) ---------------
# pg-lib: the library again, position-independent, in its own tree, for
# linking into the server's pcr.so. test-pg: a throwaway PostgreSQL 15
# cluster (installed from the distribution when missing): pg_regress, then
# pcr.decide against pcrvm. bench-pg: rows/s with 0 and 2 parallel workers.
# The PIC library is built with -O3 and link-time optimization (fat
# objects: a link without LTO still finds plain code), which
# ext/postgres/Makefile uses too (docs/postgres.md, "Where a call's time
# goes").
PG_LIB_OPT = -O3 -g -DNDEBUG -flto=auto -ffat-lto-objects
pg-lib:
	@$(MAKE) --no-print-directory BUILD=build/pg OUT=build/pg LTO= XCFLAGS="-fPIC" OPT="$(PG_LIB_OPT)" build/pg/lib/libpcr.a

test-pg: all
	sh tests/pg/run.sh

bench-pg: all pg-lib
	sh bench/pg.sh

# The library's fed route (what pcr.decide(jsonb) gives it) beside its text
# reader on the same requests, in instructions under callgrind.
bench-feed: all
	sh bench/feed.sh
# pcrvm serve under load with wrk: /v1/decide with 1 and 1,000 records per
# request and a CRD order-sign call, 64 connections, BENCH_SECONDS (20) each.
bench-serve: all
	bash bench/serve.sh $(OUT)/bin

# The same three scenarios for SOAK_SECONDS (300) each, the server's RSS
# sampled every 2 s and judged (bench/rss_judge.awk): fails when it grows.
soak-serve: all
	BENCH_SECONDS=$${SOAK_SECONDS:-300} BENCH_DIR=build/soak-serve bash bench/serve.sh $(OUT)/bin

clean:
	rm -rf build bin lib
	rm -rf ext/postgres/*.o ext/postgres/*.so ext/postgres/results ext/postgres/regression.*

# ---- fuzzing (libFuzzer) --------------------------------------------------
#   make fuzz FUZZ_SECONDS=N   build the targets of tests/fuzz/ with clang
#                              (libFuzzer + ASan + UBSan) and run each for N
#                              seconds, one process, on build/fuzz/corpus-work/
#   make fuzz-regress          replay the saved crash inputs and the seeds
# docs/reliability.md describes the targets and what they check. The library
# is built by the rules above in its own tree (BUILD=OUT=build/fuzz), with
# coverage instrumentation; clang's extra warnings do not fail that build.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_DIR      = build/fuzz
FUZZ_TARGETS  = compile bytecode records decoder_diff csv
FUZZ_BINS     = $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_SAN      = -fsanitize=address,undefined -fno-omit-frame-pointer
FUZZ_LIB      = $(FUZZ_DIR)/lib/libpcr.a
FUZZ_STAMP    = $(FUZZ_DIR)/.fuzz-deps-ok
FUZZ_RUNFLAGS ?= -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
# UBSan reports stop the run (halt_on_error) unless tests/fuzz/ubsan.supp
# lists them: known findings waiting for a fix, so fuzzing can go past them.
FUZZ_ENV      = PCR_ROOT=$(CURDIR) ASAN_OPTIONS=detect_leaks=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$(CURDIR)/tests/fuzz/ubsan.supp

.PHONY: fuzz fuzz-build fuzz-lib fuzz-regress
$(FUZZ_STAMP):
	@FUZZ_CC=$(FUZZ_CC) sh scripts/ensure-fuzz-deps.sh
	@mkdir -p $(FUZZ_DIR) && touch $@

# Objects do not depend on flags: a change of FUZZ_CC or FUZZ_SAN rebuilds all.
fuzz-lib: $(FUZZ_STAMP)
	@flags="$(FUZZ_CC) $(FUZZ_SAN)"; if [ "$$(cat $(FUZZ_DIR)/.flags 2>/dev/null)" != "$$flags" ]; then \
	    rm -rf $(FUZZ_DIR)/obj $(FUZZ_LIB); echo "$$flags" >$(FUZZ_DIR)/.flags; fi
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_DIR) OUT=$(FUZZ_DIR) CC=$(FUZZ_CC) OPT="-O1 -g" LTO= \
	    XCFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" WARN="-Wall -Wextra" $(FUZZ_LIB)

# --whole-archive: a target may reach a module only through a weak or
# indirect reference; every module is linked.
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.c tests/fuzz/fuzz_util.h \
    tests/oracle/json_oracle.h fuzz-lib
	$(FUZZ_CC) -Iinclude -Isrc -Itests/fuzz -Itests/oracle $(STD) -O1 -g -fsanitize=fuzzer $(FUZZ_SAN) $(WARN) \
	    $< tests/fuzz/fuzz_util.c -Wl,--whole-archive $(FUZZ_LIB) -Wl,--no-whole-archive \
	    $(LIB_LIBS) -ljansson -o $@

fuzz-build: $(FUZZ_BINS)

# Each target starts from its seeds (tests/fuzz/corpus/<target>/) plus what
# earlier runs found (kept in corpus-work); crashes go to build/fuzz/artifacts/.
fuzz: fuzz-build
	@failed=""; for t in $(FUZZ_TARGETS); do \
	    case $$t in compile) dict=pcr.dict;; bytecode) dict=pcrb.dict;; csv) dict=csv.dict;; *) dict=json.dict;; esac; \
	    work=$(FUZZ_DIR)/corpus-work/$$t; art=$(FUZZ_DIR)/artifacts/$$t; log=$(FUZZ_DIR)/fuzz_$$t.log; \
	    mkdir -p $$work $$art && cp -n tests/fuzz/corpus/$$t/* $$work/; \
	    echo "== fuzz_$$t: $(FUZZ_SECONDS) s, corpus $$(ls $$work | wc -l) files, log $$log"; \
	    $(FUZZ_ENV) $(FUZZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	        -dict=tests/fuzz/$$dict -artifact_prefix=$$art/ $(FUZZ_RUNFLAGS) $$work >$$log 2>&1; \
	    st=$$?; grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::' $$log | sed 's/^/   /'; \
	    if [ $$st != 0 ]; then failed="$$failed fuzz_$$t"; grep -E 'ERROR|fuzz check failed|^artifact_prefix|Test unit written' $$log | sed 's/^/   /'; fi; \
	done; if [ -n "$$failed" ]; then echo "fuzzing found problems in:$$failed"; exit 1; fi

# Every saved regression input and every seed, run once through its target.
fuzz-regress: fuzz-build
	@failed=""; passed=0; nfailed=0; for t in $(FUZZ_TARGETS); do \
	    files=$$(find tests/fuzz/regressions/$$t tests/fuzz/corpus/$$t -type f 2>/dev/null); \
	    [ -n "$$files" ] || continue; \
	    echo "== fuzz_$$t: $$(echo "$$files" | wc -l) inputs"; \
	    if $(FUZZ_ENV) $(FUZZ_DIR)/fuzz_$$t $$files >$(FUZZ_DIR)/regress_$$t.log 2>&1; then \
	        passed=$$((passed + 1)); \
	    else \
	        nfailed=$$((nfailed + 1)); failed="$$failed fuzz_$$t"; tail -40 $(FUZZ_DIR)/regress_$$t.log; \
	    fi; \
	done; \
	if [ -n "$$failed" ]; then echo "regressions fail in:$$failed"; fi; \
	echo "fuzz-regress: $$passed passed, $$nfailed failed"; [ -z "$$failed" ]

# The same saved findings and seeds through each target built without
# libFuzzer (tests/fuzz/replay.c), with the project's compiler and flags:
# part of `make test`, and of `make san` under the sanitizers, on machines
# without clang.
REPLAY_BINS = $(FUZZ_TARGETS:%=$(BUILD)/tests/replay_%)
$(BUILD)/tests/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.c tests/fuzz/fuzz_util.h \
    tests/fuzz/replay.c tests/oracle/json_oracle.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/fuzz -Itests/oracle $(CFLAGS) $(WARN) $< tests/fuzz/fuzz_util.c \
	    tests/fuzz/replay.c $(LIB) $(LDFLAGS) $(LIB_LIBS) -ljansson -o $@

replay: $(REPLAY_BINS)
	@failed=""; for t in $(FUZZ_TARGETS); do \
	    dirs=""; for d in tests/fuzz/regressions/$$t tests/fuzz/corpus/$$t; do \
	        if [ -d $$d ]; then dirs="$$dirs $$d"; fi; done; \
	    PCR_ROOT=$(CURDIR) $(BUILD)/tests/replay_$$t $$dirs || failed="$$failed replay_$$t"; \
	done; if [ -n "$$failed" ]; then echo "replay failed:$$failed"; exit 1; fi
