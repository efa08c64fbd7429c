# cano - embeddable Kafka-style partitioned log.  See README.
CANO_VER      = $(shell sed -n 's/^\#define CANO_VERSION_$(1) *\([0-9]*\).*/\1/p' include/cano.h)
MAJOR        := $(call CANO_VER,MAJOR)
VERSION      := $(MAJOR).$(call CANO_VER,MINOR).$(call CANO_VER,PATCH)
PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CC           ?= cc
CFLAGS       ?= -O2 -g
WARN          = -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wno-unused-parameter
CANO_CFLAGS   = -std=gnu11 -Iinclude -Ilib -pthread $(WARN)
LIBS          = -lz -lxxhash -lpthread -lm

SRCS     := $(sort $(wildcard lib/*.c))
B        ?= build
OBJS     := $(SRCS:lib/%.c=$(B)/lib/%.o)
PIC_OBJS := $(SRCS:lib/%.c=$(B)/pic/%.o)
TEST_OBJS:= $(SRCS:lib/%.c=$(B)/testlib/%.o)
SONAME    = libcano.so.$(MAJOR)
SHLIB     = libcano.so.$(VERSION)

EXAMPLES := $(patsubst examples/%.c,$(B)/examples/%,$(filter-out examples/kafka_bridge.c,$(wildcard examples/*.c)))
CLI       = $(B)/bin/cano
CLI_SRCS := $(sort $(wildcard examples/cli/*.c))
TOOL_TESTS := $(patsubst test/tools/%.c,$(B)/test/%,$(wildcard test/tools/check_*.c))
BRIDGE    = $(B)/examples/kafka_bridge
# What the tool tests need to find: the command, the shared library, the tree.
TOOL_ENV  = CANO_CLI=$(CURDIR)/$(CLI) CANO_LIB=$(CURDIR)/$(SHLIB) CANO_TOP=$(CURDIR) \
            CANO_BRIDGE=$(CURDIR)/$(BRIDGE)
TEST_SRCS:= $(sort $(wildcard test/check_*.c)) test/testutil.c
DEMO_DIR ?= /tmp/cano-demo
# Builds run on every core (the tests themselves run one at a time).
JOBS     ?= $(shell nproc 2>/dev/null || echo 1)

# Debian packages the build needs; installed by `make deps` when root.
BUILD_DEPS = zlib1g-dev libxxhash-dev check pkg-config
BENCH_DEPS = libsqlite3-dev liblmdb-dev librocksdb-dev gnuplot-nox python3
# What `make check` needs beyond the build: the binding's and the format
# reader's interpreter, and librdkafka (with its mock cluster) for the bridge.
CHECK_DEPS = python3 librdkafka-dev

.PHONY: cano.pc all deps check check-deps check-tools check-tools-asan pytest pkgtest bridge test check-asan check-tsan check-valgrind torture fuzz run bench install uninstall clean headertest symbolstest mantest
all: deps libcano.a $(SHLIB) $(EXAMPLES) $(CLI)

# Installs missing Debian packages (as root), or says the one command to run.
define need_pkgs
	@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing:$$missing"; \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else echo "missing packages:$$missing"; echo "run: sudo apt-get install -y$$missing"; exit 1; fi; fi
endef
deps:
	$(call need_pkgs,$(BUILD_DEPS))

$(B)/lib/%.o: lib/%.c lib/*.h include/cano.h | $(B)/lib
	@echo "  CC      $@"; $(CC) $(CANO_CFLAGS) $(CPPFLAGS) $(CFLAGS) -fvisibility=hidden -c -o $@ $<
$(B)/pic/%.o: lib/%.c lib/*.h include/cano.h | $(B)/pic
	@echo "  CC      $@"; $(CC) $(CANO_CFLAGS) $(CPPFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<
$(B)/testlib/%.o: lib/%.c lib/*.h include/cano.h | $(B)/testlib
	@echo "  CC      $@"; $(CC) $(CANO_CFLAGS) -DCANO_TESTING $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
$(B)/lib $(B)/pic $(B)/testlib $(B)/examples $(B)/test $(B)/bin:
	mkdir -p $@

libcano.a: $(OBJS)
	rm -f $@ && ar rcs $@ $^
$(SHLIB): $(PIC_OBJS) lib/cano.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=lib/cano.map -Wl,--no-undefined $(LDFLAGS) -o $@ $(PIC_OBJS) $(LIBS)
	ln -sf $(SHLIB) $(SONAME) && ln -sf $(SONAME) libcano.so
$(B)/testlib/libcano-test.a: $(TEST_OBJS)
	rm -f $@ && ar rcs $@ $^

$(B)/examples/%: examples/%.c libcano.a | $(B)/examples
	$(CC) $(CANO_CFLAGS) $(CPPFLAGS) $(CFLAGS) -o $@ $< libcano.a $(LIBS) $(LDFLAGS)

# The `cano` command: built from examples/cli, installed to bin.  It may use
# the library's internal headers (dump and verify read the files directly).
$(CLI): $(CLI_SRCS) $(wildcard examples/cli/*.h) libcano.a | $(B)/bin
	$(CC) $(CANO_CFLAGS) -Iexamples/cli $(CPPFLAGS) $(CFLAGS) -o $@ $(CLI_SRCS) libcano.a $(LIBS) $(LDFLAGS)

# The Kafka bridge needs librdkafka, so it is built by `make bridge` and
# `make check`, not by `make all`.
bridge: $(BRIDGE)
$(BRIDGE): examples/kafka_bridge.c libcano.a | $(B)/examples
	$(call need_pkgs,librdkafka-dev)
	$(CC) $(CANO_CFLAGS) $(CPPFLAGS) $(CFLAGS) -o $@ $< libcano.a $$(pkg-config --cflags --libs rdkafka) $(LIBS) $(LDFLAGS)

# Tests of the tools (the command, the format reader, the bridge): one Check
# program per test/tools/check_*.c, run against the built binaries.
$(B)/test/check_%: test/tools/check_%.c test/testutil.c test/*.h libcano.a | $(B)/test
	$(CC) $(CANO_CFLAGS) -Itest $(CPPFLAGS) $(CFLAGS) -o $@ $< test/testutil.c libcano.a $$(pkg-config --cflags --libs check) $$(pkg-config --exists rdkafka && pkg-config --cflags --libs rdkafka) $(LIBS) $(LDFLAGS)

$(B)/test/check_cano: $(TEST_SRCS) test/*.h $(B)/testlib/libcano-test.a | $(B)/test
	$(CC) $(CANO_CFLAGS) -DCANO_TESTING -Itest $(CPPFLAGS) $(CFLAGS) -o $@ $(TEST_SRCS) $(B)/testlib/libcano-test.a $$(pkg-config --cflags --libs check) $(LIBS) $(LDFLAGS)

check-deps: deps
	$(call need_pkgs,$(CHECK_DEPS))
# Packages first, then everything is built on every core, then tested.
check: check-deps
	$(MAKE) -j$(JOBS) all $(B)/test/check_cano $(BRIDGE) $(TOOL_TESTS)
	$(MAKE) headertest symbolstest mantest
	./$(B)/test/check_cano
	$(MAKE) check-tools pytest pkgtest
	$(MAKE) -j$(JOBS) -C test/fuzz replay CANO_TOP=../.. CC="$(CC)"
test: check
check-tools: all check-deps $(BRIDGE) $(TOOL_TESTS)
	@for t in $(TOOL_TESTS); do echo "== $$t"; $(TOOL_ENV) ./$$t || exit 1; done
# The Python binding's own tests, against the freshly built shared library.
pytest: all check-deps
	cd examples/python && PYTHONDONTWRITEBYTECODE=1 CANO_LIB=$(CURDIR)/$(SHLIB) python3 -m unittest
# Install into a temporary prefix; build and run an example with pkg-config.
pkgtest: all
	./test/pkgtest.sh

# Long runs, documented in the README: many crash rounds, and fuzzing.
TORTURE_ROUNDS ?= 2000
FUZZ_SECONDS   ?= 300
torture: $(B)/test/check_cano
	CANO_TORTURE_ROUNDS=$(TORTURE_ROUNDS) CK_RUN_SUITE=faults ./$(B)/test/check_cano
fuzz: deps
	$(MAKE) -j$(JOBS) -C test/fuzz fuzz CANO_TOP=../.. FUZZ_SECONDS=$(FUZZ_SECONDS)

# The suites under AddressSanitizer + UndefinedBehaviorSanitizer (clang),
# and the threaded suites under ThreadSanitizer.
SAN_FLAGS = -O1 -g -fno-omit-frame-pointer
# One process per suite: under ASan, forking each test from one process
# that ran every suite before it took twice as long.
SUITES    = $(patsubst test/check_%.c,%,$(filter-out test/check_main.c,$(wildcard test/check_*.c)))
check-asan: deps
	$(MAKE) -j$(JOBS) B=build/asan CC=clang CFLAGS="$(SAN_FLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all" LDFLAGS="-fsanitize=address,undefined" build/asan/test/check_cano
	for s in $(SUITES); do \
	  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 CK_RUN_SUITE=$$s \
	    ./build/asan/test/check_cano || exit 1; done
	$(MAKE) -j$(JOBS) -C test/fuzz replay-asan CANO_TOP=../..
	$(MAKE) check-tools-asan
# The command's and the format reader's tests against a sanitized `cano`.
check-tools-asan: deps $(B)/test/check_cli $(B)/test/check_dump
	mkdir -p build/asan/bin
	clang $(CANO_CFLAGS) -Iexamples/cli $(SAN_FLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all \
	  -o build/asan/bin/cano $(CLI_SRCS) $(SRCS) $(LIBS)
	for t in check_cli check_dump; do echo "== $$t (ASan+UBSan cano)"; \
	  ASAN_OPTIONS=detect_leaks=1 CANO_CLI=$(CURDIR)/build/asan/bin/cano CANO_TOP=$(CURDIR) \
	    ./$(B)/test/$$t || exit 1; done
check-tsan: deps
	$(MAKE) -j$(JOBS) B=build/tsan CC=clang CFLAGS="$(SAN_FLAGS) -fsanitize=thread" LDFLAGS="-fsanitize=thread" build/tsan/test/check_cano
	for c in threads:concurrency queue:group_commit queue:tailing compact:concurrent; do \
	  echo "== TSan $$c"; \
	  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" CK_RUN_SUITE=$${c%%:*} \
	    CK_RUN_CASE=$${c#*:} ./build/tsan/test/check_cano || exit 1; done

# Valgrind memcheck over the core append and read suites (in-process, so
# that every leak and invalid access of the library is seen).
check-valgrind: $(B)/test/check_cano
	for s in append read; do echo "== valgrind $$s"; \
	  CK_FORK=no CK_RUN_SUITE=$$s valgrind -q --error-exitcode=3 \
	    --leak-check=full --errors-for-leak-kinds=definite \
	    ./$(B)/test/check_cano || exit 1; done

# The public header must compile alone as C99 and as C++.
headertest: | $(B)/test
	@printf '#include "cano.h"\nint main(void){return cano_version()==0;}\n' > $(B)/test/h.c
	$(CC) -std=c99 -pedantic -Werror -Wall -Iinclude -fsyntax-only $(B)/test/h.c
	@if command -v c++ >/dev/null; then c++ -x c++ -pedantic -Werror -Wall -Iinclude -fsyntax-only $(B)/test/h.c; fi

# The shared library exports exactly the symbols in lib/cano.map.
symbolstest: $(SHLIB) | $(B)/test
	@nm -D --defined-only $(SHLIB) | awk '$$2=="T"{print $$3}' | sed 's/@.*//' | sort > $(B)/test/exported.txt
	@sed -n 's/^[[:space:]]*\(cano_[a-z0-9_]*\);.*/\1/p' lib/cano.map | sort > $(B)/test/declared.txt
	@grep -o '^CANO_API[^(]*(' include/cano.h | sed 's/.*[ *]\(cano_[a-z0-9_]*\)(/\1/' | sort > $(B)/test/header.txt
	diff -u $(B)/test/declared.txt $(B)/test/exported.txt
	diff -u $(B)/test/declared.txt $(B)/test/header.txt
	@echo "exported symbols match lib/cano.map and include/cano.h" 

# Every exported function has a man page, and every page renders cleanly.
mantest: symbolstest
	./test/mantest.sh $(B)/test/declared.txt

run: all
	./examples/demo.sh $(CLI) $(DEMO_DIR)

bench: all
	$(call need_pkgs,$(BENCH_DEPS))
	$(MAKE) -C test/bench CANO_TOP=$(CURDIR)
	./test/bench/bench > test/bench/results/latest.txt; st=$$?; \
	  cat test/bench/results/latest.txt; exit $$st
	./test/bench/chart.sh

cano.pc: pkgconfig/cano.pc.in include/cano.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

install: all cano.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(CLI) $(DESTDIR)$(BINDIR)/cano
	install -m 644 include/cano.h $(DESTDIR)$(INCLUDEDIR)/cano.h
	install -m 644 libcano.a $(DESTDIR)$(LIBDIR)/libcano.a
	install -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/$(SHLIB)
	ln -sf $(SHLIB) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libcano.so
	install -m 644 cano.pc $(DESTDIR)$(PKGCONFIGDIR)/cano.pc
	install -m 644 man/man3/*.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 644 man/man5/*.5 $(DESTDIR)$(MANDIR)/man5/
	if ls man/man1/*.1 >/dev/null 2>&1; then install -m 644 man/man1/*.1 $(DESTDIR)$(MANDIR)/man1/; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/cano $(DESTDIR)$(INCLUDEDIR)/cano.h $(DESTDIR)$(LIBDIR)/libcano.a $(DESTDIR)$(LIBDIR)/$(SHLIB) \
	      $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libcano.so $(DESTDIR)$(PKGCONFIGDIR)/cano.pc
	for p in man/man3/*.3 man/man5/*.5 man/man1/*.1; do [ -f "$$p" ] && rm -f $(DESTDIR)$(MANDIR)/$${p#man/}; done; true

clean:
	rm -rf build libcano.a libcano.so* cano.pc
	-$(MAKE) -C test/bench clean 2>/dev/null
	-$(MAKE) -C test/fuzz clean 2>/dev/null
