# PCR: make builds bin/pcrc, bin/pcrvm and lib/libpcr.a.
#   make demo    compile the example policy and evaluate the example batch
#   make test    unit, golden and end-to-end tests (Criterion)
#   make bench   throughput and compile-time benchmarks
#   make bench-peers  pcrvm beside Node.js, LuaJIT and jq (../shared/peers)
#   make san     the test suite under ASan + UBSan (+ LSan), assertions on
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
LDFLAGS  = $(XLDFLAGS)

SRCS     = $(sort $(wildcard src/*.c))
OBJS     = $(SRCS:src/%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/parser.o $(BUILD)/obj/lexer.o
LIB      = $(OUT)/lib/libpcr.a
PCRC     = $(OUT)/bin/pcrc
PCRVM    = $(OUT)/bin/pcrvm
TOOLS    = $(PCRC) $(PCRVM)
TEST_SRCS = $(sort $(wildcard tests/unit/test_*.c))
TEST_BINS = $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps demo test unit e2e replay san trace valgrind cppcheck bench bench-peers bench-stream clean
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
$(BUILD)/obj/parser.o: $(BUILD)/gen/parser.c $(BUILD)/gen/lexer.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(GEN_CFLAGS) -c $< -o $@
$(BUILD)/obj/lexer.o: $(BUILD)/gen/lexer.c $(BUILD)/gen/parser.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(GEN_CFLAGS) -c $< -o $@

# ---- library and tools --------------------------------------------------
$(BUILD)/obj/%.o: src/%.c $(BUILD)/gen/parser.h $(BUILD)/gen/lexer.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP -c $< -o $@

$(LIB): $(OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(OUT)/bin/%: tools/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $< $(LIB) $(LDFLAGS) -o $@

-include $(wildcard $(BUILD)/obj/*.d)

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
	    $(LDFLAGS) -lcriterion -ljansson -o $@

unit: $(TEST_BINS)
	@failed=""; for t in $(TEST_BINS); do \
	    echo "== $$t"; PCR_BIN=$(OUT)/bin PCR_ROOT=$(CURDIR) $$t --jobs 2 || failed="$$failed $$t"; \
	done; if [ -n "$$failed" ]; then echo "failing test binaries:$$failed"; exit 1; fi

e2e: $(TOOLS)
	@PCR_BIN=$(OUT)/bin sh tests/e2e/run.sh

test: all unit e2e replay

# The same suite built with sanitizers, in its own build tree.
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
san:
	$(MAKE) test BUILD=build/san OUT=build/san OPT="-O1 -g" \
	    XCFLAGS="$(SAN_FLAGS)" XLDFLAGS="$(SAN_FLAGS)"

# The trace build: pcrvm prints every rule it evaluates and every
# instruction with the stack to stderr (build/trace/bin/pcrvm).
trace:
	$(MAKE) all BUILD=build/trace OUT=build/trace OPT="-O0 -g" XCFLAGS="-DPCR_TRACE"

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

# A 5 GB batch streamed through pcrvm: throughput and peak memory.
bench-stream: all
	sh bench/stream.sh $(OUT)/bin

clean:
	rm -rf build bin lib

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
FUZZ_TARGETS  = compile bytecode records decoder_diff
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
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_DIR) OUT=$(FUZZ_DIR) CC=$(FUZZ_CC) OPT="-O1 -g" \
	    XCFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" WARN="-Wall -Wextra" $(FUZZ_LIB)

# --whole-archive: a target may reach a module only through a weak or
# indirect reference; every module is linked.
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.c tests/fuzz/fuzz_util.h \
    tests/oracle/json_oracle.h fuzz-lib
	$(FUZZ_CC) -Iinclude -Isrc -Itests/fuzz -Itests/oracle $(STD) -O1 -g -fsanitize=fuzzer $(FUZZ_SAN) $(WARN) \
	    $< tests/fuzz/fuzz_util.c -Wl,--whole-archive $(FUZZ_LIB) -Wl,--no-whole-archive \
	    -ljansson -o $@

fuzz-build: $(FUZZ_BINS)

# Each target starts from its seeds (tests/fuzz/corpus/<target>/) plus what
# earlier runs found (kept in corpus-work); crashes go to build/fuzz/artifacts/.
fuzz: fuzz-build
	@failed=""; for t in $(FUZZ_TARGETS); do \
	    case $$t in compile) dict=pcr.dict;; bytecode) dict=pcrb.dict;; *) dict=json.dict;; esac; \
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
	    tests/fuzz/replay.c $(LIB) $(LDFLAGS) -ljansson -o $@

replay: $(REPLAY_BINS)
	@failed=""; for t in $(FUZZ_TARGETS); do \
	    dirs=""; for d in tests/fuzz/regressions/$$t tests/fuzz/corpus/$$t; do \
	        if [ -d $$d ]; then dirs="$$dirs $$d"; fi; done; \
	    PCR_ROOT=$(CURDIR) $(BUILD)/tests/replay_$$t $$dirs || failed="$$failed replay_$$t"; \
	done; if [ -n "$$failed" ]; then echo "replay failed:$$failed"; exit 1; fi
