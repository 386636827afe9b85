# PCR: make builds bin/pcrc, bin/pcrvm and lib/libpcr.a.
#   make demo    compile the example policy and evaluate the example batch
#   make test    unit, golden and end-to-end tests (Criterion)
#   make bench   throughput and compile-time benchmarks
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

.PHONY: all deps demo test unit e2e san bench clean
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
$(BUILD)/tests/%: tests/unit/%.c tests/unit/helpers.h $(LIB) $(TOOLS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(WARN) -Wno-missing-prototypes $< $(LIB) \
	    $(LDFLAGS) -lcriterion -ljansson -o $@

unit: $(TEST_BINS)
	@failed=""; for t in $(TEST_BINS); do \
	    echo "== $$t"; PCR_BIN=$(OUT)/bin PCR_ROOT=$(CURDIR) $$t --jobs 2 || failed="$$failed $$t"; \
	done; if [ -n "$$failed" ]; then echo "failing test binaries:$$failed"; exit 1; fi

e2e: $(TOOLS)
	@PCR_BIN=$(OUT)/bin sh tests/e2e/run.sh

test: all unit e2e
	@echo "all tests passed"

# The same suite built with sanitizers, in its own build tree.
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
san:
	$(MAKE) test BUILD=build/san OUT=build/san OPT="-O1 -g" \
	    XCFLAGS="$(SAN_FLAGS)" XLDFLAGS="$(SAN_FLAGS)"

# ---- benchmarks ---------------------------------------------------------
bench: all
	sh bench/run.sh $(OUT)/bin

clean:
	rm -rf build bin lib
